#include "ir/dot.h"

#include <fmt/format.h>

#include <unordered_map>

#include "ir/printer.h"

namespace weec {

namespace {

constexpr int kMaxDepth = 64;

// Graphviz wants UTF-8: keep valid sequences, replace other bytes with '?'.
std::string sanitize_utf8(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = (unsigned char)s[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) ok = ((unsigned char)s[i + k] >> 6) == 0x2;
    if (!ok) {
      out += '?';
      ++i;
      continue;
    }
    out.append(s.substr(i, len));
    i += len;
  }
  return out;
}

// Text inside a double-quoted DOT label. `record` also escapes the characters
// that structure record labels.
std::string escape(std::string_view s, bool record) {
  std::string out;
  for (char c : sanitize_utf8(s)) {
    if (c == '"' || c == '\\' || (record && (c == '{' || c == '}' || c == '|' || c == '<' || c == '>'))) {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if ((unsigned char)c < 0x20 || c == 0x7f) {
      out += '?';
    } else {
      out += c;
    }
  }
  return out;
}

class DotWriter {
 public:
  std::string out;

  void graph(const Graph& g, int indent, int depth) {
    std::string pad(indent, ' ');
    // Register every value g defines first, so edges and the subgraphs'
    // outer-scope reads can find their source node.
    for (Value* v : g.inputs) {
      if (!v) continue;
      std::string id = fresh("in");
      source_[v] = id;
      line(pad, fmt::format("{} [shape=invhouse, style=filled, fillcolor=\"#d5e8f7\", label=\"{}\\n{}\"];",
                            id, escape(value_ref(v->name), false), escape(type_text(v->type), false)));
    }
    for (auto& vp : g.values()) {
      const Value* v = vp.get();
      if (!v->is_constant() || source_.count(v)) continue;
      std::string id = fresh("c");
      source_[v] = id;
      line(pad, fmt::format("{} [shape=box, fontsize=8, height=0.2, style=filled, fillcolor=\"#eeeeee\", "
                            "label=\"{}\\n{}\"];",
                            id, escape(value_ref(v->name), false), escape(type_text(v->type), false)));
    }
    std::unordered_map<const Node*, std::string> node_ids;
    for (auto& n : g.nodes()) {
      std::string id = fresh("n");
      node_ids[n.get()] = id;
      for (Value* o : n->outputs)
        if (o && !source_.count(o)) source_[o] = id;
    }
    for (auto& n : g.nodes()) {
      const std::string& id = node_ids[n.get()];
      std::string label = escape(op_name(n->op), true);
      if (!n->name.empty()) label += "|" + escape(n->name, true);
      line(pad, fmt::format("{} [shape=record, label=\"{{{}}}\"];", id, label));
      for (size_t i = 0; i < n->inputs.size(); ++i)
        if (n->inputs[i]) edge(pad, n->inputs[i], id);
      for (auto& [key, a] : n->attrs) {
        if (a.kind == Attribute::Kind::Graph && a.g) cluster(*a.g, *n, key, indent, depth);
        if (a.kind == Attribute::Kind::Graphs)
          for (auto& sg : a.graphs)
            if (sg) cluster(*sg, *n, key, indent, depth);
      }
    }
    for (Value* v : g.outputs) {
      if (!v) continue;
      std::string id = fresh("out");
      line(pad, fmt::format("{} [shape=house, style=filled, fillcolor=\"#f7e3d5\", label=\"{}\"];", id,
                            escape(value_ref(v->name), false)));
      edge(pad, v, id);
    }
  }

 private:
  std::string fresh(const char* prefix) { return fmt::format("{}{}", prefix, next_id_++); }

  void line(const std::string& pad, const std::string& s) { out += pad + s + "\n"; }

  void edge(const std::string& pad, const Value* v, const std::string& to) {
    auto it = source_.find(v);
    std::string from;
    if (it != source_.end()) {
      from = it->second;
    } else {  // undefined value (invalid IR): show it rather than fail
      from = fresh("undef");
      source_[v] = from;
      line(pad, fmt::format("{} [shape=plaintext, fontcolor=red, label=\"{} (undefined)\"];", from,
                            escape(value_ref(v->name), false)));
    }
    std::string label = type_text(v->type);
    if (v->producer && v->producer->outputs.size() > 1) label = fmt::format("#{} {}", v->output_index, label);
    line(pad, fmt::format("{} -> {} [label=\"{}\"];", from, to, escape(label, false)));
  }

  void cluster(const Graph& sg, const Node& n, const std::string& key, int indent, int depth) {
    std::string pad(indent, ' ');
    if (depth >= kMaxDepth) return;
    line(pad, fmt::format("subgraph cluster_{} {{", next_id_++));
    std::string inner(indent + 2, ' ');
    line(inner, fmt::format("label=\"{}: {} ({})\"; style=dashed; fontsize=9;", escape(key, false),
                            escape(sg.name, false), escape(n.describe(), false)));
    graph(sg, indent + 2, depth + 1);
    line(pad, "}");
  }

  int next_id_ = 0;
  std::unordered_map<const Value*, std::string> source_;
};

}  // namespace

std::string graph_to_dot(const Graph& g) {
  DotWriter w;
  w.out += fmt::format("digraph \"{}\" {{\n", escape(g.name, false));
  w.out += "  graph [fontname=\"Helvetica\", fontsize=10];\n";
  w.out += "  node [fontname=\"Helvetica\", fontsize=10];\n";
  w.out += "  edge [fontname=\"Helvetica\", fontsize=8];\n";
  w.graph(g, 2, 0);
  w.out += "}\n";
  return std::move(w.out);
}

}  // namespace weec
