// Boost.JSON is header-only when its implementation is compiled into exactly one
// translation unit of the program: this one.
#include <boost/json/src.hpp>
