#include "policy/file_reading/yaml_map.h"

#include <algorithm>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "policy/file_reading/file_text.h"
#include "yaml-cpp/eventhandler.h"

namespace moat::file_reading {
namespace {

// Debian's Abseil has its own string_view type, not an alias of std::string_view.
absl::string_view Av(std::string_view text) { return {text.data(), text.size()}; }

// Where each document's first node starts: every document has one, if only a null.
class DocumentStarts : public YAML::EventHandler {
 public:
  const std::vector<YAML::Mark>& marks() const { return marks_; }

  void OnDocumentStart(const YAML::Mark&) override { awaiting_node_ = true; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { Node(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { Node(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    Node(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    Node(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    Node(mark);
  }
  void OnMapEnd() override {}

 private:
  void Node(const YAML::Mark& mark) {
    if (awaiting_node_) marks_.push_back(mark);
    awaiting_node_ = false;
  }

  std::vector<YAML::Mark> marks_;
  bool awaiting_node_ = false;
};

std::string Where(const std::string& map_path) {
  return map_path.empty() ? "at the top level" : absl::StrCat("in '", map_path, "'");
}

}  // namespace

int LineOf(const YAML::Node& node) { return LineOf(node.Mark()); }

int LineOf(const YAML::Mark& mark) { return mark.is_null() ? 1 : mark.line + 1; }

std::string ErrorMessage(const YAML::Exception& error) { return Printable(error.msg); }

std::optional<YAML::Node> ParseDocument(std::string_view text, Problems& problems) {
  try {
    // YAML::LoadAll() would do, but yaml-cpp 0.7 never gets past a ',' where a document
    // starts: it returns empty documents without end until memory runs out. So a parse
    // that builds no nodes looks at the first two documents, and YAML::Load() reads the
    // first.
    std::istringstream stream{std::string(text)};
    YAML::Parser parser(stream);
    DocumentStarts starts;
    int documents = 0;
    while (documents < 2 && parser.HandleNextDocument(starts)) ++documents;
    const std::vector<YAML::Mark>& marks = starts.marks();
    if (marks.empty()) return YAML::Node(YAML::NodeType::Null);
    if (marks.size() == 2 && marks[1].pos == marks[0].pos) {  // stuck
      const std::string_view stray = text.substr(std::min<size_t>(marks[0].pos, text.size()), 1);
      problems.Add(LineOf(marks[0]), absl::StrCat("YAML syntax error: unexpected ", Quote(stray)));
      return std::nullopt;
    }
    if (marks.size() == 2) problems.Add(LineOf(marks[1]), "only one YAML document is allowed");
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    problems.Add(LineOf(e.mark), absl::StrCat("YAML syntax error: ", ErrorMessage(e)));
    return std::nullopt;
  }
}

std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return Quote(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

MapReader::MapReader(const YAML::Node& map, std::string path, int line,
                     std::initializer_list<std::string_view> known_keys, Problems& problems)
    : MapReader(map, std::move(path), line,
                std::span<const std::string_view>(known_keys.begin(), known_keys.size()),
                problems) {}

MapReader::MapReader(const YAML::Node& map, std::string path, int line,
                     std::span<const std::string_view> known_keys, Problems& problems)
    : path_(std::move(path)), line_(line), problems_(problems) {
  Read(map, known_keys);
}

MapReader::MapReader(const YAML::Node& map, std::string path, int line, Problems& problems)
    : path_(std::move(path)), line_(line), problems_(problems) {
  Read(map, std::nullopt);
}

void MapReader::Read(const YAML::Node& map,
                     std::optional<std::span<const std::string_view>> known_keys) {
  for (const auto& entry : map) {
    const YAML::Node& key = entry.first;
    const int key_line = LineOf(key);
    if (!key.IsScalar()) {
      problems_.Add(key_line, absl::StrCat("keys must be plain names, not ", Describe(key), " ",
                                           Where(path_)));
      continue;
    }
    const std::string& name = key.Scalar();
    if (known_keys &&
        std::find(known_keys->begin(), known_keys->end(), name) == known_keys->end()) {
      problems_.Add(key_line, absl::StrCat("unknown key ", Quote(name), " ", Where(path_),
                                           DidYouMean(name, *known_keys)));
      continue;
    }
    if (const Field* first = Find(name)) {
      problems_.Add(key_line, absl::StrCat("duplicate key ", Quote(name), " ", Where(path_),
                                           " (first at line ", first->line, ")"));
      continue;
    }
    // The path goes into messages; a key the writer chose (a group name) may hold anything.
    const std::string shown = Printable(name);
    fields_.push_back(
        {name, path_.empty() ? shown : absl::StrCat(path_, ".", shown), key_line, entry.second});
  }
}

const Field* MapReader::Find(std::string_view key) const {
  for (const Field& field : fields_) {
    if (field.key == key) return &field;
  }
  return nullptr;
}

const Field* MapReader::Require(std::string_view key) {
  const Field* field = Find(key);
  if (field == nullptr) {
    problems_.Add(line_, path_.empty() ? absl::StrCat("missing required key '", Av(key), "'")
                                       : absl::StrCat("missing required key '", Av(key), "' in '",
                                                      path_, "'"));
  }
  return field;
}

std::vector<Field> Elements(const Field& list) {
  std::vector<Field> elements;
  elements.reserve(list.value.size());
  size_t index = 0;
  for (const YAML::Node& node : list.value) {
    elements.push_back({"", absl::StrCat(list.path, "[", index++, "]"), LineOf(node), node});
  }
  return elements;
}

void ReportExpected(const Field& field, std::string_view what, Problems& problems) {
  problems.Add(field.line, absl::StrCat("'", field.path, "' must be ", Av(what), ", got ",
                                        Describe(field.value)));
}

bool ExpectMap(const Field& field, Problems& problems) {
  if (field.value.IsMap()) return true;
  ReportExpected(field, "a map", problems);
  return false;
}

bool ExpectSequence(const Field& field, Problems& problems) {
  if (field.value.IsSequence()) return true;
  ReportExpected(field, "a list", problems);
  return false;
}

std::optional<bool> ReadBool(const Field& field, Problems& problems) {
  bool value = false;
  if (field.value.IsScalar() && YAML::convert<bool>::decode(field.value, value)) return value;
  ReportExpected(field, "true or false", problems);
  return std::nullopt;
}

std::optional<std::string> ReadNonEmptyString(const Field& field, Problems& problems) {
  if (!field.value.IsScalar() || field.value.Scalar().empty()) {
    ReportExpected(field, "a non-empty string", problems);
    return std::nullopt;
  }
  return field.value.Scalar();
}

}  // namespace moat::file_reading
