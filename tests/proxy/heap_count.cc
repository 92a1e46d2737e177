// Replaces the global operator new and delete of the test binary: they still call malloc
// and free, and add up sizes only while a HeapCount lives.
#include "tests/proxy/heap_count.h"

#include <malloc.h>

#include <cstdlib>
#include <new>

namespace moat::test {
namespace {

bool counting = false;
long long held = 0;

size_t Reserved(void* block) { return malloc_usable_size(block) + sizeof(size_t); }

}  // namespace

HeapCount::HeapCount() {
  held = 0;
  counting = true;
}
HeapCount::~HeapCount() { counting = false; }
size_t HeapCount::Held() const { return held > 0 ? static_cast<size_t>(held) : 0; }

}  // namespace moat::test

void* operator new(size_t size) {
  void* block = std::malloc(size == 0 ? 1 : size);
  if (block == nullptr) throw std::bad_alloc();
  if (moat::test::counting) moat::test::held += static_cast<long long>(moat::test::Reserved(block));
  return block;
}

void operator delete(void* block) noexcept {
  if (block != nullptr && moat::test::counting) {
    moat::test::held -= static_cast<long long>(moat::test::Reserved(block));
  }
  std::free(block);
}

void operator delete(void* block, size_t) noexcept { operator delete(block); }
