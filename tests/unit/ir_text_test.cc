// The text IR: hand-written canonical texts must print back byte for byte,
// every dtype's values must survive print -> parse exactly, malformed input
// must give "line:col: expected ..." errors and never crash. Also checks that
// Graphviz accepts graph_to_dot's output.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>

#include "ir/dot.h"
#include "ir/parser.h"
#include "ir/printer.h"
#include "ir/verifier.h"

namespace weec {
namespace {

std::unique_ptr<Graph> parse_ok(std::string_view text) {
  auto r = parse_graph(text);
  EXPECT_TRUE(r.has_value()) << r.status().message() << "\n" << text;
  return r.has_value() ? std::move(*r) : nullptr;
}

// `text` is in canonical form: parsing and printing must reproduce it, and
// the parsed graph must verify.
void expect_canonical(const std::string& text) {
  auto g = parse_ok(text);
  ASSERT_TRUE(g);
  std::string printed = print_graph(*g);
  EXPECT_EQ(printed, text);
  Status st = verify_graph(*g);
  EXPECT_TRUE(st.is_ok()) << st.message();
  auto g2 = parse_ok(printed);
  ASSERT_TRUE(g2);
  EXPECT_EQ(print_graph(*g2), printed);
}

const char* kConvText = R"(graph main(%image: f32[N,1,28,28]) -> (%logits) {
  %w: f32[2,1,1,1] = const [0.1, -0.25]
  %b: f32[2] = const [0.0, 1.5]
  %conv: f32[N,2,28,28] = Conv(%image, %w, %b) {kernel_shape=[1,1], pads=[0,0,0,0]} @"/conv1/Conv"
  %logits: f32[N,2,28,28] = Relu(%conv) @relu_1
  return %logits
}
)";

TEST(IrText, ConvGraphRoundTrips) {
  expect_canonical(kConvText);
  auto g = parse_ok(kConvText);
  ASSERT_TRUE(g);
  ASSERT_EQ(g->nodes().size(), 2u);
  const Node& conv = *g->nodes()[0];
  EXPECT_EQ(conv.op, OpKind::Conv);
  EXPECT_EQ(conv.name, "/conv1/Conv");
  EXPECT_EQ(conv.inputs[0], g->inputs[0]);
  EXPECT_EQ(conv.attr("pads")->ints, (std::vector<int64_t>{0, 0, 0, 0}));
  EXPECT_EQ(type_str(conv.outputs[0]->type), "f32[N,2,28,28]");
  EXPECT_EQ(g->outputs[0], g->nodes()[1]->outputs[0]);
  EXPECT_EQ(g->outputs[0]->producer, g->nodes()[1].get());
}

const char* kAttrText = R"(graph attrs(%x: f32[2]) -> (%y) {
  %y: f32[2] = Identity(%x) {e_graphs=graphs[], e_ints=ints[], e_strings=strings[], e_tensors=tensors[], f=1.0, fe=floats[], ff=[1.0,2.5,-0.0,1e-05,1e+20,16777216.0,inf,-inf,nan,-nan], g=graph body(%a: f32[]) -> (%a) {
    return %a
  }, gs=[graph g0() -> () {
    return
  }, graph "g 1"(%q: i64[*]) -> (%r) {
    %r: i64[*] = Neg(%q)
    return %r
  }], i=-3, is=[1,2,-9223372036854775808,9223372036854775807], "odd key"=0, s="he said \"hi\"\n\t\\", ss=["a","","\x01\x7f","\xc3\xa9"], t=tensor<i64[2]>[1, 2], ts=[tensor<f32[]>[1.0], tensor<str[1,1]>["x"], tensor<bool[0]>[]]}
  return %y
}
)";

TEST(IrText, EveryAttributeKindRoundTrips) {
  // quote_string escapes only control bytes: the UTF-8 "é" given as \xc3\xa9
  // prints back raw, so compare against that spelling.
  std::string canonical = kAttrText;
  canonical.replace(canonical.find("\\xc3\\xa9"), 8, "\xc3\xa9");
  expect_canonical(canonical);
  auto g = parse_ok(kAttrText);
  ASSERT_TRUE(g);
  const Node& n = *g->nodes()[0];
  EXPECT_EQ(n.attr("i")->kind, Attribute::Kind::Int);
  EXPECT_EQ(n.attr("f")->kind, Attribute::Kind::Float);
  EXPECT_EQ(n.attr("e_ints")->kind, Attribute::Kind::Ints);
  EXPECT_EQ(n.attr("fe")->kind, Attribute::Kind::Floats);
  EXPECT_EQ(n.attr("e_tensors")->kind, Attribute::Kind::Tensors);
  EXPECT_EQ(n.attr("e_graphs")->kind, Attribute::Kind::Graphs);
  EXPECT_EQ(n.attr("s")->s, "he said \"hi\"\n\t\\");
  EXPECT_EQ(n.attr("ss")->strings[2], "\x01\x7f");
  EXPECT_EQ(n.attr("ss")->strings[3], "\xc3\xa9");
  const auto& ff = n.attr("ff")->floats;
  ASSERT_EQ(ff.size(), 10u);
  EXPECT_TRUE(std::signbit(ff[2]) && ff[2] == 0.f);
  EXPECT_EQ(ff[3], 1e-05f);
  EXPECT_TRUE(std::isinf(ff[7]) && ff[7] < 0);
  EXPECT_TRUE(std::isnan(ff[8]) && !std::signbit(ff[8]));
  EXPECT_TRUE(std::isnan(ff[9]) && std::signbit(ff[9]));
  EXPECT_EQ(n.attr("is")->ints[2], INT64_MIN);
  EXPECT_EQ(n.attr("odd key")->i, 0);
  EXPECT_EQ(n.attr("t")->t.get_int(1), 2);
  EXPECT_EQ(n.attr("ts")->tensors[1].strings()[0], "x");
  const Graph& g1 = *n.attr("gs")->graphs[1];
  EXPECT_EQ(g1.name, "g 1");
  EXPECT_EQ(g1.parent, g.get());
  EXPECT_EQ(n.attr("g")->g->outputs[0], n.attr("g")->g->inputs[0]);
}

TEST(IrText, QuantisedTypesRoundTrip) {
  const char* src =
      R"(graph main(%x: i8[2,3]q(s=0.5,zp=-3), %w: u8[2,3]q(axis=0,s=[0.25,0.125],zp=[128,127])) -> (%x, %w) {
  return %x, %w
}
)";
  auto g = parse_graph(src);
  ASSERT_TRUE(g.has_value()) << g.status().message();
  const Value* x = (*g)->inputs[0];
  ASSERT_TRUE(x->type.quant.has_value());
  EXPECT_EQ(x->type.quant->scale, std::vector<double>{0.5});
  EXPECT_EQ(x->type.quant->zero_point, std::vector<int64_t>{-3});
  EXPECT_FALSE(x->type.quant->per_axis());
  const Value* w = (*g)->inputs[1];
  EXPECT_EQ(w->type.quant->axis, 0);
  EXPECT_EQ(w->type.quant->zero_point, (std::vector<int64_t>{128, 127}));
  EXPECT_EQ(print_graph(**g), src);
  for (const char* bad : {"f32[2]q(s=0.5,zp=0)", "i8[2]q(s=-1,zp=0)", "i8[2]q(s=[0.5,0.25],zp=[0,0])",
                          "i8[2]q(s=0.5)", "i8[2]q(s=0.5,zp=0,bias=2)"}) {
    std::string text = std::string("graph main(%x: ") + bad + ") -> (%x) {\n  return %x\n}\n";
    EXPECT_FALSE(parse_graph(text).has_value()) << bad;
  }
}

TEST(IrText, UntypedListsAreTypedByTheirElements) {
  auto g = parse_ok(R"(graph g(%x: f32[1]) -> (%x) {
    Identity(%x) {a=[1, 2.5], b=floats[1, 2], c=[3]}
    return %x })");
  ASSERT_TRUE(g);
  const Node& n = *g->nodes()[0];
  EXPECT_EQ(n.attr("a")->floats, (std::vector<float>{1.f, 2.5f}));
  EXPECT_EQ(n.attr("b")->floats, (std::vector<float>{1.f, 2.f}));
  EXPECT_EQ(n.attr("c")->ints, (std::vector<int64_t>{3}));
  EXPECT_EQ(print_node(n), "Identity(%x) {a=[1.0,2.5], b=[1.0,2.0], c=[3]}");
}

const char* kWeirdNames =
    R"(graph "torch-jit-export"(%"/in put": f32[1], %input.1: f32[1], %"onnx::Gemm_12": f32[1], %123: f32[1]) -> (%"out\"q\\", %"", %"\xc3\xa9\t\x00") {
  %"": f32[1] = Add(%"/in put", %input.1) @"/conv1/Conv"
  %"out\"q\\": f32[1] = Mul(%"", %"onnx::Gemm_12") @node.1
  %"\xc3\xa9\t\x00": f32[1] = Sub(%123, %_) @"\n"
  return %"out\"q\\", %"", %"\xc3\xa9\t\x00"
}
)";

TEST(IrText, WeirdNamesAreQuoted) {
  std::string text = kWeirdNames;
  // %_ is a value named "_"; bare `_` would be an omitted input.
  text.replace(text.find("%123: f32[1]"), 12, "%123: f32[1], %_: f32[1]");
  auto g = parse_ok(text);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->name, "torch-jit-export");
  EXPECT_EQ(g->inputs[0]->name, "/in put");
  EXPECT_EQ(g->inputs[4]->name, "_");
  EXPECT_EQ(g->nodes()[2]->inputs[1], g->inputs[4]);
  EXPECT_EQ(g->nodes()[2]->outputs[0]->name, std::string("\xc3\xa9\t\0", 4));
  EXPECT_EQ(g->nodes()[2]->name, "\n");
  std::string printed = print_graph(*g);
  // Non-control UTF-8 bytes print raw.
  std::string canonical = text;
  for (size_t p; (p = canonical.find("\\xc3\\xa9")) != std::string::npos;)
    canonical.replace(p, 8, "\xc3\xa9");
  EXPECT_EQ(printed, canonical);
  EXPECT_TRUE(verify_graph(*g).is_ok());
}

TEST(IrText, ShapesOmittedInputsAndMultipleOutputs) {
  expect_canonical(
      R"(graph shapes(%a: f32[N,3,?,"batch size"], %b: f32[*], %k: i64[1], %s: f32[]) -> (%d, %v, %i2) {
  %max: f32[] = const [6.0]
  %d: f32[*] = Add(%a, %b)
  %c: f32[N,3,?,"batch size"] = Clip(%a, _, %max)
  %v: f32[N,3,?,2], %i: i64[N,3,?,2] = TopK(%c, %k) {axis=-1}
  _, %i2: i64[N,3,?,2] = TopK(%c, %k)
  _ = Relu(%s)
  return %d, %v, %i2
}
)");
  auto g = parse_ok("graph g(%a: f32[N,?,\"3\",\"\"]) -> () { return }");
  ASSERT_TRUE(g);
  const Shape& s = g->inputs[0]->type.shape;
  ASSERT_EQ(s.rank(), 4);
  EXPECT_EQ(s.dims[0], Dim::named("N"));
  EXPECT_EQ(s.dims[1], Dim::unknown());
  EXPECT_EQ(s.dims[2], Dim::named("3"));  // a symbol, not the number 3
  EXPECT_EQ(type_text(g->inputs[0]->type), "f32[N,?,\"3\",?]");
}

const char* kNested = R"(graph main(%c: bool[], %x: f32[2]) -> (%o) {
  %one: f32[2] = const [1.0, 1.0]
  %o: f32[2] = If(%c) {else_branch=graph else_body() -> (%e) {
    %e: f32[2] = Sub(%x, %one)
    return %e
  }, then_branch=graph then_body() -> (%t) {
    %inner: f32[2] = If(%c) {else_branch=graph e2() -> (%x) {
      return %x
    }, then_branch=graph t2() -> (%tt) {
      %tt: f32[2] = Add(%x, %one)
      return %tt
    }}
    %t: f32[2] = Mul(%inner, %x)
    return %t
  }}
  return %o
}
)";

TEST(IrText, NestedSubgraphsResolveOuterNames) {
  expect_canonical(kNested);
  auto g = parse_ok(kNested);
  ASSERT_TRUE(g);
  Value* x = g->inputs[1];
  Value* one = g->find_value("one");
  const Graph& then_body = *g->nodes()[0]->attr("then_branch")->g;
  EXPECT_EQ(then_body.parent, g.get());
  const Graph& t2 = *then_body.nodes()[0]->attr("then_branch")->g;
  EXPECT_EQ(t2.parent, &then_body);
  EXPECT_EQ(t2.nodes()[0]->inputs[0], x);
  EXPECT_EQ(t2.nodes()[0]->inputs[1], one);
  const Graph& e2 = *then_body.nodes()[0]->attr("else_branch")->g;
  EXPECT_EQ(e2.outputs[0], x);  // a subgraph may return an outer value
}

TEST(IrText, InnerDefinitionsShadowOuterNames) {
  auto g = parse_ok(R"(graph main(%x: f32[1]) -> (%y) {
    %y: f32[1] = If(%x) {b=graph sub() -> (%x) {
      %x: f32[1] = Neg(%x)
      return %x
    }}
    return %y })");
  ASSERT_TRUE(g);
  const Graph& sub = *g->nodes()[0]->attr("b")->g;
  EXPECT_EQ(sub.nodes()[0]->inputs[0], g->inputs[0]);  // outer %x: inner not defined yet
  EXPECT_EQ(sub.outputs[0], sub.nodes()[0]->outputs[0]);
}

// Builds a graph holding one constant of each given tensor and checks that
// print -> parse gives bitwise identical tensors (NaNs excepted: their
// payload is not printed).
void expect_constants_round_trip(const std::vector<Tensor>& tensors) {
  Graph g;
  for (size_t i = 0; i < tensors.size(); ++i) g.add_constant(fmt::format("c{}", i), tensors[i]);
  std::string text = print_graph(g);
  auto parsed = parse_graph(text);
  ASSERT_TRUE(parsed.has_value()) << parsed.status().message();
  auto cs = (*parsed)->constants();
  ASSERT_EQ(cs.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i)
    EXPECT_TRUE(cs[i]->constant->identical(tensors[i])) << "constant " << i << " in\n"
                                                        << text.substr(0, 2000);
  EXPECT_EQ(print_graph(**parsed), text);
}

TEST(IrText, EveryDtypeConstantPrintsAsExpected) {
  Graph g;
  g.add_constant("f32", Tensor::from_vector<float>(
                            {9}, {0.f, -0.f, 1.f, 0.1f, 3.4028235e38f, 1e-45f, NAN, -INFINITY, 100000.f}));
  g.add_constant("f64", Tensor::from_vector<double>({4}, {0.1, 1e-300, 5e-324, -1.7976931348623157e308}));
  // f16/bf16 values and their shortest f32 spellings come from numpy:
  // repr(np.float32(np.float16(0.1))) == '0.099975586' etc.
  std::vector<Half> halves;
  for (float f : {1.f, 0.1f, 65504.f, 5.9604645e-08f, -INFINITY}) halves.push_back(Half{float_to_half(f)});
  g.add_constant("f16", Tensor::from_vector<Half>({5}, halves));
  std::vector<BFloat16> bfs;
  for (float f : {1.f, 0.1f, 3.3895314e+38f}) bfs.push_back(BFloat16{float_to_bfloat16(f)});
  g.add_constant("bf16", Tensor::from_vector<BFloat16>({3}, bfs));
  g.add_constant("i8", Tensor::from_vector<int8_t>({2}, {-128, 127}));
  g.add_constant("u8", Tensor::from_vector<uint8_t>({2}, {0, 255}));
  g.add_constant("i16", Tensor::from_vector<int16_t>({2}, {-32768, 32767}));
  g.add_constant("u16", Tensor::from_vector<uint16_t>({2}, {0, 65535}));
  g.add_constant("i32", Tensor::from_vector<int32_t>({2}, {INT32_MIN, INT32_MAX}));
  g.add_constant("u32", Tensor::from_vector<uint32_t>({2}, {0, UINT32_MAX}));
  g.add_constant("i64", Tensor::from_vector<int64_t>({2}, {INT64_MIN, INT64_MAX}));
  g.add_constant("u64", Tensor::from_vector<uint64_t>({2}, {0, UINT64_MAX}));
  g.add_constant("b", Tensor::from_vector<bool>({2, 1}, {true, false}));
  Tensor s(DType::String, {3});
  s.strings() = {"", "a\"b", "\xc3\xa9\n"};
  g.add_constant("s", s);
  g.add_constant("scalar", Tensor::scalar<int64_t>(7));
  g.add_constant("empty", Tensor(DType::F32, {0, 3}));
  const std::string expected = R"(graph main() -> () {
  %f32: f32[9] = const [0.0, -0.0, 1.0, 0.1, 3.4028235e+38, 1e-45, nan, -inf, 100000.0]
  %f64: f64[4] = const [0.1, 1e-300, 5e-324, -1.7976931348623157e+308]
  %f16: f16[5] = const [1.0, 0.099975586, 65504.0, 5.9604645e-08, -inf]
  %bf16: bf16[3] = const [1.0, 0.100097656, 3.3895314e+38]
  %i8: i8[2] = const [-128, 127]
  %u8: u8[2] = const [0, 255]
  %i16: i16[2] = const [-32768, 32767]
  %u16: u16[2] = const [0, 65535]
  %i32: i32[2] = const [-2147483648, 2147483647]
  %u32: u32[2] = const [0, 4294967295]
  %i64: i64[2] = const [-9223372036854775808, 9223372036854775807]
  %u64: u64[2] = const [0, 18446744073709551615]
  %b: bool[2,1] = const [true, false]
  %s: str[3] = const ["", "a\"b", "é\n"]
  %scalar: i64[] = const [7]
  %empty: f32[0,3] = const []
  return
}
)";
  EXPECT_EQ(print_graph(g), expected);
  expect_canonical(expected);
  std::vector<Tensor> all;
  for (Value* c : g.constants())
    if (c->name != "f32") all.push_back(*c->constant);  // its NaN is checked by the attribute test
  expect_constants_round_trip(all);
}

TEST(IrText, AllHalfAndBfloat16BitPatternsRoundTripExactly) {
  std::vector<Half> h;
  std::vector<BFloat16> b;
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    bool h_nan = (bits & 0x7c00) == 0x7c00 && (bits & 0x3ff);
    bool b_nan = (bits & 0x7f80) == 0x7f80 && (bits & 0x7f);
    if (!h_nan) h.push_back(Half{(uint16_t)bits});
    if (!b_nan) b.push_back(BFloat16{(uint16_t)bits});
  }
  expect_constants_round_trip({Tensor::from_vector<Half>({(int64_t)h.size()}, h),
                               Tensor::from_vector<BFloat16>({(int64_t)b.size()}, b)});
}

TEST(IrText, RandomFloatBitPatternsRoundTripExactly) {
  std::mt19937_64 rng(42);
  std::vector<float> f;
  std::vector<double> d;
  while (f.size() < 20000) {
    uint64_t r = rng();
    uint32_t fb = (uint32_t)r;
    float fv;
    double dv;
    std::memcpy(&fv, &fb, 4);
    std::memcpy(&dv, &r, 8);
    if (!std::isnan(fv)) f.push_back(fv);
    if (!std::isnan(dv)) d.push_back(dv);
  }
  for (uint32_t denormal : {1u, 2u, 3u, 0x7fffffu, 0x800000u}) {
    float fv;
    std::memcpy(&fv, &denormal, 4);
    f.push_back(fv);
  }
  expect_constants_round_trip({Tensor::from_vector<float>({(int64_t)f.size()}, f),
                               Tensor::from_vector<double>({(int64_t)d.size()}, d)});
}

TEST(IrText, ElidedConstantsArePrintedButNotParseable) {
  Graph g;
  g.add_constant("w", Tensor(DType::F32, {4, 5}));
  g.add_constant("small", Tensor::from_vector<int64_t>({2}, {1, 2}));
  PrintOptions opt;
  opt.elide_constants_over = 3;
  std::string text = print_graph(g, opt);
  EXPECT_NE(text.find("%w: f32[4,5] = const <elided 20 x f32>"), std::string::npos) << text;
  EXPECT_NE(text.find("%small: i64[2] = const [1, 2]"), std::string::npos) << text;
  auto r = parse_graph(text);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.status().message(),
            "2:24: elided constant data cannot be parsed (print without elide_constants_over)");
}

TEST(IrText, HandWrittenSpellingsAreAccepted) {
  // Comments, free layout, 1. and 2e3 floats, a float attribute given as inf.
  auto g = parse_ok(R"(// a comment
graph g(%x: f32[2]) -> (%y) {  // trailing comment
  %c: f32[2] = const [1., 2e3]
  %y: f32[2] = LeakyRelu(%x) {alpha=inf}   %z: f16[1] = const [7e-46]
  return %y
})");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->find_value("c")->constant->get_double(1), 2000.0);
  EXPECT_TRUE(std::isinf(g->nodes()[0]->attr("alpha")->f));
  EXPECT_EQ(g->find_value("z")->constant->get_double(0), 0.0);  // underflows f16
}

TEST(IrText, CustomOpLookupRestrictsOps) {
  OpLookup only_add = [](std::string_view name) -> std::optional<OpKind> {
    return name == "Add" ? std::optional<OpKind>(OpKind::Add) : std::nullopt;
  };
  const char* text =
      "graph g(%x: f32[1]) -> (%y) {\n  %y: f32[1] = Add(%x, %x)\n  %z: f32[1] = Mul(%x, %x)\n  return %y\n}";
  auto r = parse_graph(text, only_add);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.status().message(), "3:16: unknown op 'Mul'");
}

struct BadInput {
  const char* text;
  const char* error;
};

TEST(IrText, MalformedInputGivesLineAndColumn) {
  const BadInput cases[] = {
      {"", "1:1: expected 'graph', got end of input"},
      {"grap g() -> () { return }", "1:1: expected 'graph', got 'grap'"},
      {"graph g(%x f32[1]) -> () { return }",
       "1:12: expected ':' and a type after the value name, got 'f32'"},
      {"graph g(%x: f33[1]) -> () { return }", "1:13: unknown dtype 'f33'"},
      {"graph g(%x: f32[1,-2]) -> () { return }", "1:19: a dimension must be >= 0"},
      {"graph g() -> () {\n  %y: f32[1] = Relu(%x)\n  return\n}", "2:21: use of undefined value %x"},
      {"graph g(%x: f32[1]) -> () {\n  %x: f32[1] = Relu(%x)\n  return\n}",
       "2:3: redefinition of %x (first defined at 1:9)"},
      {"graph g(%x: f32[1]) -> () {\n  %y: f32[1] = Frobnicate(%x)\n  return\n}",
       "2:16: unknown op 'Frobnicate'"},
      {"graph g() -> () {\n  %c: f32[2] = const [1.0]\n  return\n}",
       "2:22: tensor of type f32[2] needs 2 elements, got 1"},
      {"graph g() -> () {\n  %c: i8[1] = const [128]\n  return\n}", "2:22: 128 is out of range for i8"},
      {"graph g() -> () {\n  %c: i32[1] = const [1.5]\n  return\n}",
       "2:23: expected an integer (i32), got '1.5'"},
      {"graph g() -> () {\n  %c: f32[N] = const [1.0]\n  return\n}",
       "2:3: a constant's shape must be fully known"},
      {"graph g(%x: f32[1]) -> () {\n  Relu(%x) {s=\"abc\n}",
       "2:15: unterminated string (opened at 2:15; write a newline as \\n)"},
      {"graph g(%x: f32[1]) -> () {\n  Relu(%x) {s=\"a\\q\"}\n  return\n}",
       "2:17: unknown escape '\\q' in string"},
      {"graph g(%x: f32[1]) -> () {\n  Relu(%x) {a=[]}\n  return\n}",
       "2:15: an empty list needs its kind: ints[], floats[], strings[], tensors[] or graphs[]"},
      {"graph g(%x: f32[1]) -> () {\n  Relu(%x) {a=1, a=2}\n  return\n}", "2:18: duplicate attribute 'a'"},
      {"graph g(%x: f32[1]) -> (%y) {\n  return %x\n}",
       "2:10: returned value %x does not match %y in the signature of graph 'g'"},
      {"graph g(%x: f32[1]) -> (%x) {\n  return\n}",
       "2:3: graph 'g' returns 0 values but its signature declares 1"},
      {"graph g() -> () { return } extra", "1:28: expected end of input after the graph, got 'extra'"},
      {"graph g() -> () {\n  $\n}", "2:3: unexpected character '$'"},
      {"graph g(%x: f32[1]) -> () {\n  Relu(%x,)\n  return\n}",
       "2:11: expected an input value or '_', got ')'"},
      {"graph g(%x: f32[1]) -> () {\n  %a: f32[1], %b: f32[1] = const [1.0]\n  return\n}",
       "2:3: a constant defines exactly one value"},
      {"graph g(%x: f32[1]) -> () {\n  Relu(%x) {t=tensor<f32[1]>[x]}\n  return\n}",
       "2:30: expected a number, got 'x'"},
      {"graph g() -> () {\n  %c: u64[1] = const [-1]\n  return\n}", "2:23: -1 is out of range for u64"},
      {"graph g() -> () {\n  %c: f32[1] = const [1e39]\n  return\n}", "2:23: 1e39 is out of range for f32"},
      {"graph g() -> () {\n  %c: i64[1] = const [9223372036854775808]\n  return\n}",
       "2:23: integer 9223372036854775808 is out of range for i64"},
      {"graph g() -> () {\n  Relu() {g=graph s() -> () {\n    %y: f32[1] = Relu(%z)\n    return\n  }}\n  "
       "return\n}",
       "3:23: use of undefined value %z"},
      {"graph g(%x: f32[1]) -> () {\n  %y: f32[1] = If(%x) {b=graph s() -> () {\n    %z: f32[1] = Relu(%y)\n"
       "    return\n  }}\n  return\n}",
       "3:23: use of undefined value %y"},  // a subgraph cannot read its own node's outputs
      {"graph g() -> () {\n  %c: bool[1] = const [1]\n  return\n}", "2:24: expected true or false, got '1'"},
      {"graph g() -> () {\n  %c: str[1] = const [\"\\x4\"]\n  return\n}",
       "2:24: \\x must be followed by two hex digits"},
      {"graph g(%\x01: f32[1]) -> () { return }", "1:9: expected a name or a quoted name after '%'"},
      {"graph g() -> () {\n  %c: f32[1] = const [1.0]\x80\n}", "2:27: unexpected byte 0x80"},
  };
  for (const BadInput& c : cases) {
    auto r = parse_graph(c.text);
    ASSERT_FALSE(r.has_value()) << c.text;
    EXPECT_EQ(r.status().message(), c.error) << c.text;
  }
}

TEST(IrText, NestingDepthIsBounded) {
  auto nested = [](int depth) {
    std::string text;
    for (int i = 0; i < depth; ++i) text += fmt::format("graph g{}() -> () {{ Identity() {{b=", i);
    text += "graph leaf() -> () { return }";
    for (int i = 0; i < depth; ++i) text += "} return }";
    return text;
  };
  auto ok = parse_graph(nested(60));
  EXPECT_TRUE(ok.has_value()) << ok.status().message();
  if (ok.has_value()) {
    EXPECT_TRUE(verify_graph(**ok).is_ok());
  }
  auto deep = parse_graph(nested(100000));
  ASSERT_FALSE(deep.has_value());
  EXPECT_NE(deep.status().message().find("graphs nested more than 64 deep"), std::string::npos);
}

// Fuzz-like: every prefix, and single-byte mutations at every offset, of
// valid texts must parse or fail cleanly; what parses must print stably.
TEST(IrText, TruncationsAndMutationsNeverCrash) {
  std::string texts[] = {kConvText, kAttrText, kWeirdNames, kNested};
  int parsed = 0;
  for (const std::string& text : texts) {
    for (size_t len = 0; len < text.size(); ++len) {
      auto r = parse_graph(std::string_view(text).substr(0, len));
      // Only the closing "}\n" may be cut (whitespace) and still parse.
      if (r.has_value()) {
        EXPECT_GE(len, text.rfind('}') + 1);
      }
    }
    const char mutations[] = {'(', ')', '"', '%', '\\', '\0', '\n', '9',
                              'x', ',', '[', '{', '}',  '-',  '_',  '\xff'};
    for (size_t pos = 0; pos < text.size(); ++pos)
      for (char m : mutations) {
        std::string t = text;
        t[pos] = m;
        auto r = parse_graph(t);
        if (!r.has_value()) {
          EXPECT_NE(r.status().message().find(':'), std::string::npos);
          continue;
        }
        ++parsed;
        std::string printed = print_graph(**r);
        auto r2 = parse_graph(printed);
        ASSERT_TRUE(r2.has_value()) << r2.status().message() << "\n" << printed;
        EXPECT_EQ(print_graph(**r2), printed);
      }
  }
  EXPECT_GT(parsed, 0);
}

TEST(IrDot, GraphvizAcceptsTheOutput) {
  auto g = parse_ok(kNested);
  ASSERT_TRUE(g);
  std::string weird = kWeirdNames;
  auto g2 = parse_ok(weird.replace(weird.find("%123: f32[1]"), 12, "%123: f32[1], %_: f32[1]"));
  ASSERT_TRUE(g2);
  std::string dot = graph_to_dot(*g);
  EXPECT_NE(dot.find("shape=record, label=\"{If}\""), std::string::npos) << dot;
  EXPECT_NE(dot.find("subgraph cluster_"), std::string::npos);
  EXPECT_NE(dot.find("[label=\"f32[2]\"]"), std::string::npos);
  EXPECT_NE(dot.find("shape=invhouse"), std::string::npos);
  EXPECT_NE(dot.find("shape=house"), std::string::npos);
  EXPECT_NE(dot.find("label=\"%one\\nf32[2]\""), std::string::npos);  // constant box, no data
  std::string dot2 = graph_to_dot(*g2);
  EXPECT_NE(dot2.find("label=\"{Add|/conv1/Conv}\""), std::string::npos) << dot2;

  if (std::system("command -v dot >/dev/null 2>&1") != 0) GTEST_SKIP() << "graphviz 'dot' is not installed";
  for (const std::string& text : {dot, dot2}) {
    std::string path = testing::TempDir() + "weec_ir_dot_test.dot";
    std::ofstream(path) << text;
    std::string cmd = "dot -Tsvg '" + path + "' -o /dev/null 2>'" + path + ".err'";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << text;
    std::ifstream err(path + ".err");
    std::string messages((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
    EXPECT_EQ(messages, "") << text;
    std::remove(path.c_str());
    std::remove((path + ".err").c_str());
  }
}

}  // namespace
}  // namespace weec
