#include "ir/parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <unordered_map>
#include <vector>

namespace weec {

namespace {

// Subgraph nesting limit: keeps recursion bounded on hostile input.
constexpr int kMaxGraphDepth = 64;

enum class Tok { End, Ident, Value, At, Int, Float, String, Punct, Arrow, Error };

struct Token {
  Tok kind = Tok::End;
  std::string_view text;  // raw source text
  std::string str;        // decoded name (Value, At), contents (String) or message (Error)
  int line = 1, col = 1;
};

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {}

  Token next() {
    skip_space();
    Token t;
    t.line = line_;
    t.col = col_;
    size_t start = pos_;
    if (pos_ >= src_.size()) return t;  // End
    char c = src_[pos_];
    if (c == '%' || c == '@') {
      t.kind = c == '%' ? Tok::Value : Tok::At;
      bump();
      if (pos_ < src_.size() && src_[pos_] == '"') {
        if (!quoted(t)) return t;
      } else {
        size_t name_start = pos_;
        while (pos_ < src_.size() && is_name_char(src_[pos_])) bump();
        if (pos_ == name_start)
          return error(t, fmt::format("expected a name or a quoted name after '{}'", c));
        t.str = std::string(src_.substr(name_start, pos_ - name_start));
      }
    } else if (c == '"') {
      t.kind = Tok::String;
      if (!quoted(t)) return t;
    } else if (is_alpha(c)) {
      t.kind = Tok::Ident;
      while (pos_ < src_.size() && is_name_char(src_[pos_])) bump();
    } else if (is_digit(c) || (c == '-' && pos_ + 1 < src_.size() && is_digit(src_[pos_ + 1]))) {
      number(t);
    } else if (c == '-' && pos_ + 1 < src_.size() && src_[pos_ + 1] == '>') {
      t.kind = Tok::Arrow;
      bump(2);
    } else if (c == '-' && (word_at(pos_ + 1, "inf") || word_at(pos_ + 1, "nan"))) {
      t.kind = Tok::Float;
      bump(4);
    } else if (c != '\0' && std::strchr("()[]{},:=<>?*", c)) {
      t.kind = Tok::Punct;
      bump();
    } else {
      unsigned char u = (unsigned char)c;
      if (u >= 0x21 && u < 0x7f) return error(t, fmt::format("unexpected character '{}'", c));
      return error(t, fmt::format("unexpected byte 0x{:02x}", u));
    }
    t.text = src_.substr(start, pos_ - start);
    return t;
  }

 private:
  void bump(size_t n = 1) {
    for (size_t i = 0; i < n && pos_ < src_.size(); ++i, ++pos_) {
      if (src_[pos_] == '\n') {
        ++line_;
        col_ = 1;
      } else {
        ++col_;
      }
    }
  }

  void skip_space() {
    while (pos_ < src_.size()) {
      char c = src_[pos_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        bump();
      } else if (c == '/' && pos_ + 1 < src_.size() && src_[pos_ + 1] == '/') {
        while (pos_ < src_.size() && src_[pos_] != '\n') bump();
      } else {
        break;
      }
    }
  }

  // `word` at position p, not followed by another name character.
  bool word_at(size_t p, std::string_view word) const {
    if (src_.substr(p, word.size()) != word) return false;
    size_t e = p + word.size();
    return e >= src_.size() || !is_name_char(src_[e]);
  }

  static Token error(Token t, std::string message) {
    t.kind = Tok::Error;
    t.str = std::move(message);
    return t;
  }

  // -?digits(.digits*)?([eE][+-]?digits)?; '.' or an exponent make it a Float.
  void number(Token& t) {
    t.kind = Tok::Int;
    if (src_[pos_] == '-') bump();
    while (pos_ < src_.size() && is_digit(src_[pos_])) bump();
    if (pos_ < src_.size() && src_[pos_] == '.') {
      t.kind = Tok::Float;
      bump();
      while (pos_ < src_.size() && is_digit(src_[pos_])) bump();
    }
    if (pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      size_t p = pos_ + 1;
      if (p < src_.size() && (src_[p] == '+' || src_[p] == '-')) ++p;
      if (p < src_.size() && is_digit(src_[p])) {
        t.kind = Tok::Float;
        bump(p - pos_);
        while (pos_ < src_.size() && is_digit(src_[pos_])) bump();
      }
    }
  }

  // A "..." string with C escapes, decoded into t.str. False (t is then an
  // Error token) if it is malformed.
  bool quoted(Token& t) {
    int line = line_, col = col_;
    bump();  // opening quote
    while (true) {
      if (pos_ >= src_.size()) {
        t = error(t, "unterminated string");
        return false;
      }
      char c = src_[pos_];
      if (c == '"') {
        bump();
        return true;
      }
      if (c == '\n') {
        t = error(t, fmt::format("unterminated string (opened at {}:{}; write a newline as \\n)", line, col));
        return false;
      }
      if (c != '\\') {
        t.str += c;
        bump();
        continue;
      }
      Token at;
      at.line = line_;
      at.col = col_;
      bump();
      if (pos_ >= src_.size()) {
        t = error(t, "unterminated string");
        return false;
      }
      char e = src_[pos_];
      // One-character escapes, then \xHH.
      static constexpr std::string_view kEscaped = "ntr0\\\"'";
      static constexpr char kBytes[] = {'\n', '\t', '\r', '\0', '\\', '"', '\''};
      size_t k = kEscaped.find(e);
      if (k != std::string_view::npos) {
        t.str += kBytes[k];
      } else if (e == 'x') {
        int hi = pos_ + 1 < src_.size() ? hex_value(src_[pos_ + 1]) : -1;
        int lo = pos_ + 2 < src_.size() ? hex_value(src_[pos_ + 2]) : -1;
        if (hi < 0 || lo < 0) {
          t = error(at, "\\x must be followed by two hex digits");
          return false;
        }
        t.str += (char)(hi * 16 + lo);
        bump(2);
      } else {
        unsigned char u = (unsigned char)e;
        t = error(at, u >= 0x20 && u < 0x7f ? fmt::format("unknown escape '\\{}' in string", e)
                                            : std::string("unknown escape in string"));
        return false;
      }
      bump();
    }
  }

  std::string_view src_;
  size_t pos_ = 0;
  int line_ = 1, col_ = 1;
};

// How a token reads in "expected X, got Y".
std::string describe(const Token& t) {
  if (t.kind == Tok::End) return "end of input";
  if (t.kind == Tok::String) return "a string";
  if (t.kind == Tok::Error) return "an invalid token";
  std::string_view s = t.text;
  if (s.size() > 32) return fmt::format("'{}...'", s.substr(0, 32));
  return fmt::format("'{}'", s);
}

struct Scope {
  Graph* graph = nullptr;
  std::unordered_map<std::string, std::pair<Value*, Token>> names;  // value and where it was defined
  const Scope* parent = nullptr;

  Value* find(const std::string& name) const {
    for (const Scope* s = this; s; s = s->parent) {
      auto it = s->names.find(name);
      if (it != s->names.end()) return it->second.first;
    }
    return nullptr;
  }
};

// A declared output of a node or constant, created once the statement parsed.
struct PendingDef {
  bool omitted = false;
  std::string name;
  TensorType type;
  Token where;
};

class Parser {
 public:
  Parser(std::string_view text, OpLookup lookup) : lex_(text), lookup_(lookup) {}

  Expected<std::unique_ptr<Graph>> run() {
    advance();
    auto g = std::make_unique<Graph>();
    WEEC_TRY(graph(*g, nullptr, 0));
    if (tok_.kind != Tok::End) return expected("end of input after the graph");
    return g;
  }

 private:
  void advance() { tok_ = lex_.next(); }

  bool is_punct(char c) const { return tok_.kind == Tok::Punct && tok_.text[0] == c; }
  bool is_ident(std::string_view word) const { return tok_.kind == Tok::Ident && tok_.text == word; }

  Status fail_at(const Token& t, const std::string& message) const {
    return error("{}:{}: {}", t.line, t.col, message);
  }
  Status expected(const std::string& what) const {
    if (tok_.kind == Tok::Error) return fail_at(tok_, tok_.str);
    return fail_at(tok_, fmt::format("expected {}, got {}", what, describe(tok_)));
  }
  Status expect_punct(char c, const char* context) {
    if (!is_punct(c)) return expected(fmt::format("'{}' {}", c, context));
    advance();
    return Status::ok();
  }

  // Elements separated by ',' up to `close` (consumed); no trailing comma.
  template <typename F>
  Status comma_list(char close, const char* what, F&& element) {
    while (!is_punct(close)) {
      WEEC_TRY(element());
      if (is_punct(',')) {
        advance();
        if (is_punct(close)) return expected(what);
      } else if (!is_punct(close)) {
        return expected(fmt::format("',' or '{}' after {}", close, what));
      }
    }
    advance();
    return Status::ok();
  }

  // graph NAME(%in: type, ...) -> (%out, ...) { statements... return %out, ... }
  Status graph(Graph& g, const Scope* outer, int depth) {
    if (depth > kMaxGraphDepth)
      return fail_at(tok_, fmt::format("graphs nested more than {} deep", kMaxGraphDepth));
    if (!is_ident("graph")) return expected("'graph'");
    advance();
    if (tok_.kind == Tok::Ident)
      g.name = std::string(tok_.text);
    else if (tok_.kind == Tok::String)
      g.name = tok_.str;
    else
      return expected("a graph name");
    advance();
    Scope scope;
    scope.graph = &g;
    scope.parent = outer;
    WEEC_TRY(expect_punct('(', "to open the graph inputs"));
    WEEC_TRY(comma_list(')', "a graph input", [&]() -> Status {
      PendingDef d;
      WEEC_TRY(value_def(d, false));
      WEEC_TRY(define(scope, d));
      scope.names[d.name] = {g.add_input(d.name, d.type), d.where};
      return Status::ok();
    }));
    if (tok_.kind != Tok::Arrow) return expected("'->' before the graph outputs");
    advance();
    WEEC_TRY(expect_punct('(', "to open the graph outputs"));
    std::vector<Token> declared;
    WEEC_TRY(comma_list(')', "a graph output value", [&]() -> Status {
      if (tok_.kind != Tok::Value) return expected("a graph output value");
      declared.push_back(tok_);
      advance();
      return Status::ok();
    }));
    WEEC_TRY(expect_punct('{', "to open the graph body"));
    while (!is_ident("return")) WEEC_TRY(statement(g, scope, depth));
    Token ret = tok_;
    advance();
    std::vector<Token> returned;
    WEEC_TRY(comma_list('}', "a returned value", [&]() -> Status {
      if (tok_.kind != Tok::Value) return expected("a returned value or '}'");
      returned.push_back(tok_);
      Value* v = scope.find(tok_.str);
      if (!v) return fail_at(tok_, fmt::format("return of undefined value {}", tok_.text));
      g.outputs.push_back(v);
      advance();
      return Status::ok();
    }));
    // The signature repeats the returned names so a subgraph's interface is
    // visible at its top; the two must agree.
    if (returned.size() != declared.size())
      return fail_at(ret, fmt::format("graph '{}' returns {} values but its signature declares {}", g.name,
                                      returned.size(), declared.size()));
    for (size_t i = 0; i < returned.size(); ++i)
      if (returned[i].str != declared[i].str)
        return fail_at(returned[i],
                       fmt::format("returned value {} does not match {} in the signature of graph '{}'",
                                   returned[i].text, declared[i].text, g.name));
    return Status::ok();
  }

  // %name: type   (or `_` for an omitted node output when allow_omitted)
  Status value_def(PendingDef& d, bool allow_omitted) {
    d.where = tok_;
    if (allow_omitted && is_ident("_")) {
      d.omitted = true;
      advance();
      return Status::ok();
    }
    if (tok_.kind != Tok::Value) return expected(allow_omitted ? "a value name or '_'" : "a value name");
    d.name = tok_.str;
    advance();
    WEEC_TRY(expect_punct(':', "and a type after the value name"));
    return type(d.type);
  }

  Status define(const Scope& scope, const PendingDef& d) const {
    auto it = scope.names.find(d.name);
    if (it != scope.names.end())
      return fail_at(d.where, fmt::format("redefinition of {} (first defined at {}:{})", d.where.text,
                                          it->second.second.line, it->second.second.col));
    return Status::ok();
  }

  // dtype[dims]: f32[1,N,?,3], i64[] (scalar), f32[*] (unknown rank)
  Status type(TensorType& t) {
    if (tok_.kind != Tok::Ident) return expected("a type such as f32[1,3]");
    auto dt = dtype_from_name(tok_.text);
    if (!dt) return fail_at(tok_, fmt::format("unknown dtype '{}'", tok_.text));
    t.dtype = *dt;
    advance();
    WEEC_TRY(expect_punct('[', "to open the shape"));
    if (is_punct('*')) {
      advance();
      t.shape = Shape::unknown_rank();
      return expect_punct(']', "after '*' (unknown rank)");
    }
    t.shape.rank_known = true;
    WEEC_TRY(comma_list(']', "a dimension", [&]() -> Status {
      if (tok_.kind == Tok::Int) {
        int64_t v;
        WEEC_TRY(parse_int(tok_, v));
        if (v < 0) return fail_at(tok_, "a dimension must be >= 0");
        t.shape.dims.push_back(Dim::known(v));
      } else if (tok_.kind == Tok::Ident) {
        t.shape.dims.push_back(Dim::named(std::string(tok_.text)));
      } else if (tok_.kind == Tok::String) {
        t.shape.dims.push_back(Dim::named(tok_.str));
      } else if (is_punct('?')) {
        t.shape.dims.push_back(Dim::unknown());
      } else {
        return expected("a dimension (number, symbol or '?')");
      }
      advance();
      return Status::ok();
    }));
    if (is_ident("q")) return quant(t);
    return Status::ok();
  }

  // q(s=0.5,zp=-3) or q(axis=0,s=[0.1,0.2],zp=[0,0]) after an integer type.
  Status quant(TensorType& t) {
    Token at = tok_;
    advance();
    QuantParams q;
    WEEC_TRY(expect_punct('(', "after 'q'"));
    auto number_list = [&](auto&& one) -> Status {
      if (!is_punct('[')) return one();
      advance();
      return comma_list(']', "a number", one);
    };
    WEEC_TRY(comma_list(')', "s=, zp= or axis=", [&]() -> Status {
      if (tok_.kind != Tok::Ident) return expected("s=, zp= or axis=");
      std::string key(tok_.text);
      advance();
      WEEC_TRY(expect_punct('=', "after a quantisation key"));
      if (key == "axis") {
        if (tok_.kind != Tok::Int) return expected("an axis");
        WEEC_TRY(parse_int(tok_, q.axis));
        advance();
        return Status::ok();
      }
      if (key == "s")
        return number_list([&]() -> Status {
          if (!at_number()) return expected("a scale");
          WEEC_TRY(parse_double(tok_, q.scale.emplace_back()));
          advance();
          return Status::ok();
        });
      if (key == "zp")
        return number_list([&]() -> Status {
          if (tok_.kind != Tok::Int) return expected("a zero point");
          WEEC_TRY(parse_int(tok_, q.zero_point.emplace_back()));
          advance();
          return Status::ok();
        });
      return fail_at(tok_, fmt::format("unknown quantisation key '{}'", key));
    }));
    if (!is_integer(t.dtype)) return fail_at(at, "quantisation parameters on a non-integer type");
    if (q.scale.empty() || q.scale.size() != q.zero_point.size())
      return fail_at(at, "quantisation needs as many scales as zero points (at least one)");
    for (double s : q.scale)
      if (!(s > 0) || !std::isfinite(s))
        return fail_at(at, "quantisation scales must be positive and finite");
    if (!q.per_axis() && q.scale.size() != 1) return fail_at(at, "several scales need an axis");
    t.quant = std::move(q);
    return Status::ok();
  }

  Status static_type(TensorType& t, Dims& dims) {
    Token at = tok_;
    WEEC_TRY(type(t));
    if (!t.shape.is_static()) return fail_at(at, "a constant's shape must be fully known");
    dims = t.shape.static_dims();
    return Status::ok();
  }

  // One line of a graph body: a constant or a node.
  Status statement(Graph& g, Scope& scope, int depth) {
    std::vector<PendingDef> outs;
    if (tok_.kind == Tok::Value || is_ident("_")) {
      while (true) {
        PendingDef d;
        WEEC_TRY(value_def(d, true));
        outs.push_back(std::move(d));
        if (!is_punct(',')) break;
        advance();
      }
      WEEC_TRY(expect_punct('=', "after the defined values"));
      if (is_ident("const")) {
        if (outs.size() != 1 || outs[0].omitted)
          return fail_at(outs[0].where, "a constant defines exactly one value");
        advance();
        PendingDef& d = outs[0];
        if (!d.type.shape.is_static()) return fail_at(d.where, "a constant's shape must be fully known");
        Tensor data;
        WEEC_TRY(tensor_literal(d.type.dtype, d.type.shape.static_dims(), data));
        WEEC_TRY(define(scope, d));
        scope.names[d.name] = {g.add_constant(d.name, std::move(data)), d.where};
        return Status::ok();
      }
    } else if (tok_.kind != Tok::Ident) {
      return expected("a value definition, a node or 'return'");
    }
    return node(g, scope, depth, outs);
  }

  // Op(%in, _, ...) {attrs} @name, after the outputs and '='.
  Status node(Graph& g, Scope& scope, int depth, std::vector<PendingDef>& outs) {
    if (tok_.kind != Tok::Ident) return expected("an op name or 'const'");
    auto op = lookup_ ? lookup_(tok_.text) : std::nullopt;
    if (!op) return fail_at(tok_, fmt::format("unknown op '{}'", tok_.text));
    advance();
    WEEC_TRY(expect_punct('(', "to open the node inputs"));
    std::vector<Value*> ins;
    WEEC_TRY(comma_list(')', "an input value or '_'", [&]() -> Status {
      if (is_ident("_")) {
        ins.push_back(nullptr);
      } else if (tok_.kind == Tok::Value) {
        Value* v = scope.find(tok_.str);
        if (!v) return fail_at(tok_, fmt::format("use of undefined value {}", tok_.text));
        ins.push_back(v);
      } else {
        return expected("an input value or '_'");
      }
      advance();
      return Status::ok();
    }));
    AttrMap attrs;
    if (is_punct('{')) WEEC_TRY(attr_dict(g, scope, depth, attrs));
    std::string name;
    if (tok_.kind == Tok::At) {
      name = tok_.str;
      advance();
    }
    // Outputs become visible only now, so the node's subgraphs cannot use them.
    std::vector<Value*> values;
    for (PendingDef& d : outs) {
      if (d.omitted) {
        values.push_back(nullptr);
        continue;
      }
      WEEC_TRY(define(scope, d));
      Value* v = g.add_value(d.name, d.type);
      scope.names[d.name] = {v, d.where};
      values.push_back(v);
    }
    g.add_node(*op, std::move(ins), std::move(values), std::move(attrs), std::move(name));
    return Status::ok();
  }

  Status attr_dict(Graph& g, Scope& scope, int depth, AttrMap& attrs) {
    advance();  // '{'
    return comma_list('}', "an attribute", [&]() -> Status {
      std::string key;
      if (tok_.kind == Tok::Ident)
        key = std::string(tok_.text);
      else if (tok_.kind == Tok::String)
        key = tok_.str;
      else
        return expected("an attribute name");
      Token key_tok = tok_;
      advance();
      if (attrs.count(key)) return fail_at(key_tok, fmt::format("duplicate attribute '{}'", key));
      WEEC_TRY(expect_punct('=', "after the attribute name"));
      Attribute a;
      WEEC_TRY(attr_value(g, scope, depth, a));
      attrs.emplace(std::move(key), std::move(a));
      return Status::ok();
    });
  }

  bool at_number() const {
    return tok_.kind == Tok::Int || tok_.kind == Tok::Float || is_ident("inf") || is_ident("nan");
  }

  Status attr_value(Graph& g, Scope& scope, int depth, Attribute& a) {
    if (tok_.kind == Tok::Int) {
      a.kind = Attribute::Kind::Int;
      WEEC_TRY(parse_int(tok_, a.i));
      advance();
      return Status::ok();
    }
    if (at_number()) {
      a.kind = Attribute::Kind::Float;
      WEEC_TRY(parse_float(tok_, a.f));
      advance();
      return Status::ok();
    }
    if (tok_.kind == Tok::String) {
      a = Attribute::of_string(tok_.str);
      advance();
      return Status::ok();
    }
    if (is_ident("tensor")) {
      a.kind = Attribute::Kind::Tensor;
      return tensor_attr(a.t);
    }
    if (is_ident("graph")) {
      a.kind = Attribute::Kind::Graph;
      return subgraph(g, scope, depth, a.g);
    }
    static const std::pair<std::string_view, Attribute::Kind> kTypedLists[] = {
        {"ints", Attribute::Kind::Ints},
        {"floats", Attribute::Kind::Floats},
        {"strings", Attribute::Kind::Strings},
        {"tensors", Attribute::Kind::Tensors},
        {"graphs", Attribute::Kind::Graphs}};
    for (auto& [word, kind] : kTypedLists) {
      if (!is_ident(word)) continue;
      advance();
      if (!is_punct('[')) return expected(fmt::format("'[' after '{}'", word));
      return list(g, scope, depth, kind, a);
    }
    if (is_punct('[')) {
      Token open = tok_;
      advance();
      std::optional<Attribute::Kind> kind;
      if (at_number()) {
        kind = Attribute::Kind::Ints;  // numeric_list decides ints or floats
      } else if (tok_.kind == Tok::String) {
        kind = Attribute::Kind::Strings;
      } else if (is_ident("tensor")) {
        kind = Attribute::Kind::Tensors;
      } else if (is_ident("graph")) {
        kind = Attribute::Kind::Graphs;
      } else if (is_punct(']')) {
        return fail_at(open,
                       "an empty list needs its kind: ints[], floats[], strings[], tensors[] or graphs[]");
      } else {
        return expected("a list element");
      }
      return list_elements(g, scope, depth, *kind, a, /*typed=*/false);
    }
    return expected("an attribute value");
  }

  // At '[' of a typed list such as floats[1.0,2.0].
  Status list(Graph& g, Scope& scope, int depth, Attribute::Kind kind, Attribute& a) {
    advance();
    return list_elements(g, scope, depth, kind, a, /*typed=*/true);
  }

  // After '['. An untyped numeric list is floats if any element is.
  Status list_elements(Graph& g, Scope& scope, int depth, Attribute::Kind kind, Attribute& a, bool typed) {
    a.kind = kind;
    bool numeric = kind == Attribute::Kind::Ints || kind == Attribute::Kind::Floats;
    std::vector<Token> numbers;
    WEEC_TRY(comma_list(']', "a list element", [&]() -> Status {
      if (numeric) {
        bool ok = kind == Attribute::Kind::Ints && typed ? tok_.kind == Tok::Int : at_number();
        if (!ok) return expected(kind == Attribute::Kind::Ints && typed ? "an integer" : "a number");
        if (tok_.kind != Tok::Int) a.kind = Attribute::Kind::Floats;
        numbers.push_back(tok_);
        advance();
      } else if (kind == Attribute::Kind::Strings) {
        if (tok_.kind != Tok::String) return expected("a string");
        a.strings.push_back(tok_.str);
        advance();
      } else if (kind == Attribute::Kind::Tensors) {
        if (!is_ident("tensor")) return expected("a tensor");
        a.tensors.emplace_back();
        WEEC_TRY(tensor_attr(a.tensors.back()));
      } else {
        if (!is_ident("graph")) return expected("a graph");
        a.graphs.emplace_back();
        WEEC_TRY(subgraph(g, scope, depth, a.graphs.back()));
      }
      return Status::ok();
    }));
    for (const Token& t : numbers) {
      if (a.kind == Attribute::Kind::Ints) {
        WEEC_TRY(parse_int(t, a.ints.emplace_back()));
      } else {
        WEEC_TRY(parse_float(t, a.floats.emplace_back()));
      }
    }
    return Status::ok();
  }

  // tensor<f32[2]>[1.0, 2.0]
  Status tensor_attr(Tensor& t) {
    advance();  // 'tensor'
    WEEC_TRY(expect_punct('<', "after 'tensor'"));
    TensorType type;
    Dims dims;
    WEEC_TRY(static_type(type, dims));
    WEEC_TRY(expect_punct('>', "after the tensor type"));
    return tensor_literal(type.dtype, dims, t);
  }

  Status subgraph(Graph& g, Scope& scope, int depth, std::shared_ptr<Graph>& out) {
    out = std::make_shared<Graph>();
    out->parent = &g;
    return graph(*out, &scope, depth + 1);
  }

  // [e0, e1, ...] flat in row-major order. Elements are parsed into a buffer
  // that grows with the text, so a huge declared shape cannot make us
  // allocate before the element count is checked.
  Status tensor_literal(DType dtype, const Dims& dims, Tensor& out) {
    if (is_punct('<')) {
      Token at = tok_;
      advance();
      if (is_ident("elided"))
        return fail_at(at, "elided constant data cannot be parsed (print without elide_constants_over)");
      return expected("'elided'");
    }
    Token open = tok_;
    WEEC_TRY(expect_punct('[', "to open the tensor data"));
    std::vector<uint8_t> bytes;
    std::vector<std::string> strings;
    int64_t count = 0;
    WEEC_TRY(comma_list(']', "a tensor element", [&]() -> Status {
      WEEC_TRY(element(dtype, bytes, strings));
      ++count;
      advance();
      return Status::ok();
    }));
    int64_t numel = 1;
    bool overflow = false;
    for (int64_t d : dims) overflow |= __builtin_mul_overflow(numel, d, &numel);
    if (std::find(dims.begin(), dims.end(), 0) != dims.end()) numel = 0, overflow = false;
    if (overflow || numel != count) {
      std::string type = std::string(dtype_name(dtype)) + dims_str(dims);
      if (overflow) return fail_at(open, fmt::format("tensor of type {} is too large", type));
      return fail_at(open, fmt::format("tensor of type {} needs {} elements, got {}", type, numel, count));
    }
    out = Tensor(dtype, dims);
    if (dtype == DType::String)
      out.strings() = std::move(strings);
    else if (!bytes.empty())
      std::memcpy(out.raw(), bytes.data(), bytes.size());
    return Status::ok();
  }

  template <typename T>
  static void append(std::vector<uint8_t>& bytes, T v) {
    size_t n = bytes.size();
    bytes.resize(n + sizeof(T));
    std::memcpy(bytes.data() + n, &v, sizeof(T));
  }

  template <typename T>
  Status int_element(std::vector<uint8_t>& bytes) {
    if (tok_.kind != Tok::Int) return expected(fmt::format("an integer ({})", dtype_name(dtype_of<T>())));
    if constexpr (std::is_same_v<T, uint64_t>) {
      uint64_t v;
      auto r = std::from_chars(tok_.text.data(), tok_.text.data() + tok_.text.size(), v);
      if (r.ec != std::errc() || r.ptr != tok_.text.data() + tok_.text.size())
        return fail_at(tok_, fmt::format("{} is out of range for u64", tok_.text));
      append(bytes, v);
    } else {
      int64_t v;
      WEEC_TRY(parse_int(tok_, v));
      if (v < (int64_t)std::numeric_limits<T>::min() || v > (int64_t)std::numeric_limits<T>::max())
        return fail_at(tok_, fmt::format("{} is out of range for {}", v, dtype_name(dtype_of<T>())));
      append(bytes, (T)v);
    }
    return Status::ok();
  }

  // The current token as one element of a `dtype` tensor.
  Status element(DType dtype, std::vector<uint8_t>& bytes, std::vector<std::string>& strings) {
    switch (dtype) {
      case DType::F32:
      case DType::F16:
      case DType::BF16: {
        if (!at_number()) return expected("a number");
        float f;
        WEEC_TRY(parse_float(tok_, f));
        if (dtype == DType::F32)
          append(bytes, f);
        else  // exact for printed values: they are f32 renderings of f16/bf16 values
          append(bytes, dtype == DType::F16 ? float_to_half(f) : float_to_bfloat16(f));
        return Status::ok();
      }
      case DType::F64: {
        if (!at_number()) return expected("a number");
        double d;
        WEEC_TRY(parse_double(tok_, d));
        append(bytes, d);
        return Status::ok();
      }
      case DType::I8:
        return int_element<int8_t>(bytes);
      case DType::U8:
        return int_element<uint8_t>(bytes);
      case DType::I16:
        return int_element<int16_t>(bytes);
      case DType::U16:
        return int_element<uint16_t>(bytes);
      case DType::I32:
        return int_element<int32_t>(bytes);
      case DType::U32:
        return int_element<uint32_t>(bytes);
      case DType::I64:
        return int_element<int64_t>(bytes);
      case DType::U64:
        return int_element<uint64_t>(bytes);
      case DType::Bool:
        if (!is_ident("true") && !is_ident("false")) return expected("true or false");
        append(bytes, (uint8_t)(tok_.text == "true"));
        return Status::ok();
      case DType::String:
        if (tok_.kind != Tok::String) return expected("a string");
        strings.push_back(tok_.str);
        return Status::ok();
    }
    return expected("a tensor element");
  }

  Status parse_int(const Token& t, int64_t& v) const {
    auto r = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
    if (r.ec != std::errc() || r.ptr != t.text.data() + t.text.size())
      return fail_at(t, fmt::format("integer {} is out of range for i64", t.text));
    return Status::ok();
  }

  // nan/inf are spelled out (with an optional '-') rather than left to
  // from_chars so the sign of a NaN survives.
  template <typename F>
  static bool special(std::string_view s, F& v) {
    bool neg = !s.empty() && s[0] == '-';
    std::string_view w = neg ? s.substr(1) : s;
    if (w == "nan")
      v = std::numeric_limits<F>::quiet_NaN();
    else if (w == "inf")
      v = std::numeric_limits<F>::infinity();
    else
      return false;
    if (neg) v = -v;
    return true;
  }

  Status parse_double(const Token& t, double& v) const {
    if (special(t.text, v)) return Status::ok();
    auto r = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
    if (r.ec == std::errc::result_out_of_range) {
      // Underflow of a hand-written literal rounds to zero; overflow is an error.
      if (decimal_magnitude(t.text) >= 0)
        return fail_at(t, fmt::format("{} is out of range for f64", t.text));
      v = t.text[0] == '-' ? -0.0 : 0.0;
      return Status::ok();
    }
    if (r.ec != std::errc() || r.ptr != t.text.data() + t.text.size())
      return fail_at(t, fmt::format("malformed number {}", t.text));
    return Status::ok();
  }

  // Roughly floor(log10(|x|)) of a numeric literal: >= 0 for |x| >= 1.
  static int64_t decimal_magnitude(std::string_view s) {
    size_t i = s[0] == '-' ? 1 : 0;
    int64_t int_digits = 0, leading_frac_zeros = 0;
    bool seen_nonzero = false;
    for (; i < s.size() && is_digit(s[i]); ++i) {
      if (s[i] != '0') seen_nonzero = true;
      if (seen_nonzero) ++int_digits;
    }
    if (i < s.size() && s[i] == '.')
      for (++i; i < s.size() && is_digit(s[i]); ++i) {
        if (!seen_nonzero && s[i] == '0') ++leading_frac_zeros;
        if (s[i] != '0') seen_nonzero = true;
      }
    int64_t exp = 0;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
      ++i;
      bool neg = i < s.size() && s[i] == '-';
      if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
      for (; i < s.size() && is_digit(s[i]) && exp < 1000000; ++i) exp = exp * 10 + (s[i] - '0');
      if (neg) exp = -exp;
    }
    return (int_digits > 0 ? int_digits - 1 : -(leading_frac_zeros + 1)) + exp;
  }

  Status parse_float(const Token& t, float& v) const {
    if (special(t.text, v)) return Status::ok();
    auto r = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
    if (r.ec == std::errc::result_out_of_range) {
      // libstdc++ reports f32 underflow (even to a subnormal) as out of range:
      // take the nearest double and round that.
      double d;
      WEEC_TRY(parse_double(t, d));
      if (std::isinf((float)d)) return fail_at(t, fmt::format("{} is out of range for f32", t.text));
      v = (float)d;
      return Status::ok();
    }
    if (r.ec != std::errc() || r.ptr != t.text.data() + t.text.size())
      return fail_at(t, fmt::format("malformed number {}", t.text));
    return Status::ok();
  }

  Lexer lex_;
  OpLookup lookup_;
  Token tok_;
};

}  // namespace

Expected<std::unique_ptr<Graph>> parse_graph(std::string_view text, OpLookup lookup) {
  Parser p(text, lookup);
  return p.run();
}

}  // namespace weec
