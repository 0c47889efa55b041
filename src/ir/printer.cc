#include "ir/printer.h"

#include <fmt/format.h>

#include <cmath>

namespace weec {

namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
}

// Value and node names may start with a digit (ONNX names like "input.1", "12").
bool is_bare_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_name_char(c)) return false;
  return true;
}

// Graph names, attribute names and dim symbols must not look like numbers.
bool is_identifier(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9') || s[0] == '.') return false;
  return is_bare_name(s);
}

std::string ident_text(std::string_view s) { return is_identifier(s) ? std::string(s) : quote_string(s); }

std::string shape_text(const Shape& s) {
  if (!s.rank_known) return "[*]";
  std::string out = "[";
  for (size_t i = 0; i < s.dims.size(); ++i) {
    if (i) out += ",";
    const Dim& d = s.dims[i];
    if (d.is_known())
      out += std::to_string(d.value);
    else if (!d.symbol.empty())
      out += ident_text(d.symbol);
    else
      out += "?";
  }
  return out + "]";
}

// Elements actually stored, so a tensor whose buffer disagrees with its dims
// (which the verifier reports) still prints without reading out of bounds.
int64_t stored_elements(const Tensor& t) {
  int64_t stored = t.dtype() == DType::String ? (int64_t)t.strings().size()
                                              : (int64_t)(t.nbytes() / dtype_size(t.dtype()));
  return std::min(stored, t.numel());
}

void append_element(std::string& out, const Tensor& t, int64_t i) {
  auto it = std::back_inserter(out);
  switch (t.dtype()) {
    case DType::F32:
      out += float_text(t.data<float>()[i]);
      return;
    case DType::F64:
      out += double_text(t.data<double>()[i]);
      return;
    case DType::F16:
      out += float_text(half_to_float(t.data<uint16_t>()[i]));
      return;
    case DType::BF16:
      out += float_text(bfloat16_to_float(t.data<uint16_t>()[i]));
      return;
    case DType::I8:
      fmt::format_to(it, "{}", (int)t.data<int8_t>()[i]);
      return;
    case DType::U8:
      fmt::format_to(it, "{}", (unsigned)t.data<uint8_t>()[i]);
      return;
    case DType::I16:
      fmt::format_to(it, "{}", t.data<int16_t>()[i]);
      return;
    case DType::U16:
      fmt::format_to(it, "{}", t.data<uint16_t>()[i]);
      return;
    case DType::I32:
      fmt::format_to(it, "{}", t.data<int32_t>()[i]);
      return;
    case DType::U32:
      fmt::format_to(it, "{}", t.data<uint32_t>()[i]);
      return;
    case DType::I64:
      fmt::format_to(it, "{}", t.data<int64_t>()[i]);
      return;
    case DType::U64:
      fmt::format_to(it, "{}", t.data<uint64_t>()[i]);
      return;
    case DType::Bool:
      out += t.data<uint8_t>()[i] ? "true" : "false";
      return;
    case DType::String:
      out += quote_string(t.strings()[i]);
      return;
  }
}

class Printer {
 public:
  explicit Printer(const PrintOptions& options) : opt_(options) {}

  // The header goes where the cursor is; body lines are indented by
  // indent+2 and the closing brace by indent, so nested graphs line up.
  void graph(const Graph& g, int indent) {
    out += "graph " + ident_text(g.name) + "(";
    for (size_t i = 0; i < g.inputs.size(); ++i) {
      if (i) out += ", ";
      def(g.inputs[i]);
    }
    out += ") -> (";
    refs(g.outputs);
    out += ") {\n";
    std::string pad(indent + 2, ' ');
    for (auto& v : g.values()) {
      if (!v->is_constant()) continue;
      out += pad;
      def(v.get());
      out += " = const ";
      literal(*v->constant);
      out += "\n";
    }
    for (auto& n : g.nodes()) {
      out += pad;
      node(*n, indent + 2);
      out += "\n";
    }
    out += pad + "return";
    if (!g.outputs.empty()) out += " ";
    refs(g.outputs);
    out += "\n" + std::string(indent, ' ') + "}";
  }

  void node(const Node& n, int indent) {
    for (size_t i = 0; i < n.outputs.size(); ++i) {
      if (i) out += ", ";
      def(n.outputs[i]);
    }
    if (!n.outputs.empty()) out += " = ";
    out += op_name(n.op);
    out += "(";
    refs(n.inputs);
    out += ")";
    if (!n.attrs.empty()) {
      out += " {";
      bool first = true;
      for (auto& [key, a] : n.attrs) {
        if (!first) out += ", ";
        first = false;
        out += ident_text(key) + "=";
        attr(a, indent);
      }
      out += "}";
    }
    if (!n.name.empty()) out += " @" + (is_bare_name(n.name) ? n.name : quote_string(n.name));
  }

  std::string out;

 private:
  void def(const Value* v) {
    if (!v) {
      out += "_";
      return;
    }
    out += value_ref(v->name) + ": " + type_text(v->type);
  }

  void refs(const std::vector<Value*>& vs) {
    for (size_t i = 0; i < vs.size(); ++i) {
      if (i) out += ", ";
      out += vs[i] ? value_ref(vs[i]->name) : "_";
    }
  }

  void literal(const Tensor& t) {
    if (t.numel() > opt_.elide_constants_over) {
      out += fmt::format("<elided {} x {}>", t.numel(), dtype_name(t.dtype()));
      return;
    }
    out += "[";
    int64_t n = stored_elements(t);
    for (int64_t i = 0; i < n; ++i) {
      if (i) out += ", ";
      append_element(out, t, i);
    }
    out += "]";
  }

  void tensor_attr(const Tensor& t) {
    out += "tensor<" + type_text(TensorType{t.dtype(), Shape::of(t.dims())}) + ">";
    literal(t);
  }

  void subgraph(const std::shared_ptr<Graph>& g, int indent) {
    if (g)
      graph(*g, indent);
    else
      out += "<null graph>";  // invalid IR (the verifier says so); printing must not crash
  }

  template <typename T, typename F>
  void list(const std::vector<T>& items, const char* empty, const char* sep, F&& each) {
    if (items.empty()) {
      out += empty;
      return;
    }
    out += "[";
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) out += sep;
      each(items[i]);
    }
    out += "]";
  }

  void attr(const Attribute& a, int indent) {
    switch (a.kind) {
      case Attribute::Kind::Int:
        out += std::to_string(a.i);
        return;
      case Attribute::Kind::Float:
        out += float_text(a.f);
        return;
      case Attribute::Kind::String:
        out += quote_string(a.s);
        return;
      case Attribute::Kind::Tensor:
        tensor_attr(a.t);
        return;
      case Attribute::Kind::Graph:
        subgraph(a.g, indent);
        return;
      case Attribute::Kind::Ints:
        list(a.ints, "ints[]", ",", [&](int64_t v) { out += std::to_string(v); });
        return;
      case Attribute::Kind::Floats:
        list(a.floats, "floats[]", ",", [&](float v) { out += float_text(v); });
        return;
      case Attribute::Kind::Strings:
        list(a.strings, "strings[]", ",", [&](const std::string& s) { out += quote_string(s); });
        return;
      case Attribute::Kind::Tensors:
        list(a.tensors, "tensors[]", ", ", [&](const Tensor& t) { tensor_attr(t); });
        return;
      case Attribute::Kind::Graphs:
        list(a.graphs, "graphs[]", ", ", [&](const std::shared_ptr<Graph>& g) { subgraph(g, indent); });
        return;
    }
  }

  const PrintOptions& opt_;
};

}  // namespace

std::string value_ref(std::string_view name) {
  return "%" + (is_bare_name(name) ? std::string(name) : quote_string(name));
}

std::string quote_string(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    unsigned char c = (unsigned char)ch;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f)
          out += fmt::format("\\x{:02x}", c);
        else
          out += ch;
    }
  }
  return out + "\"";
}

std::string type_text(const TensorType& t) {
  return std::string(dtype_name(t.dtype)) + shape_text(t.shape) + quant_str(t.quant);
}

std::string float_text(float f) {
  if (std::isnan(f)) return std::signbit(f) ? "-nan" : "nan";
  if (std::isinf(f)) return f < 0 ? "-inf" : "inf";
  std::string s = fmt::format("{}", f);  // shortest representation that round-trips
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

std::string double_text(double d) {
  if (std::isnan(d)) return std::signbit(d) ? "-nan" : "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  std::string s = fmt::format("{}", d);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

std::string print_graph(const Graph& g, const PrintOptions& options) {
  Printer p(options);
  p.graph(g, 0);
  p.out += "\n";
  return std::move(p.out);
}

std::string print_node(const Node& node, const PrintOptions& options) {
  Printer p(options);
  p.node(node, 0);
  return std::move(p.out);
}

}  // namespace weec
