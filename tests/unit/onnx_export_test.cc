// The ONNX exporter (frontend/onnx/export.h). The main check is a round trip
// over the whole ONNX backend node suite: import -> export -> libonnx's
// checker and strict shape inference -> import again -> the interpreter gives
// bitwise identical outputs to the first import on the suite's inputs. The
// suite's expected outputs are the independent check that the first import is
// right. Then: an -O2 graph with Fused nodes exports as the original ops;
// internal ops and legacy ops are refused by name; forms that differ between
// the IR and opset 17 (per-axis quantisation, Reduce axes) and subgraph
// scoping; write_onnx's atomic writes.
#include <gtest/gtest.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "frontend/onnx/export.h"
#include "frontend/onnx/importer.h"
#include "frontend/onnx/tensor_proto.h"
#include "interp/interpreter.h"
#include "io/compare.h"
#include "ops/op_util.h"
#include "ops/registry.h"
#include "passes/pass.h"

namespace fs = std::filesystem;

namespace weec {
namespace {

const fs::path kNodeSuite = "/usr/share/libonnx-testdata/data/node";

// Node tests the interpreter passes that are known not to round-trip, with
// the reason. The test reports any that starts passing, so the list stays true.
//
// kUnknownRankOutput: weec's inference leaves a main-graph output's rank
// unknown (shapes computed at run time through Shape/ConstantOfShape/Reshape,
// or a Loop-built Range), and the importer does not keep the shape the model
// declared. ONNX cannot write "unknown rank" for a main-graph output: the
// checker requires a shape. (ONNX Runtime loads and runs these models.)
const char* const kUnknownRankOutput =
    "a main-graph output of unknown rank: ONNX's checker requires a shape there";
const char* const kUnknownRankSymptom = "Field 'shape' of 'type' is required but missing";
const std::map<std::string, std::string> kExceptions = {
    {"test_layer_normalization_2d_axis0_expanded", kUnknownRankOutput},
    {"test_layer_normalization_2d_axis1_expanded", kUnknownRankOutput},
    {"test_layer_normalization_2d_axis_negative_1_expanded", kUnknownRankOutput},
    {"test_layer_normalization_2d_axis_negative_2_expanded", kUnknownRankOutput},
    {"test_layer_normalization_3d_axis0_epsilon_expanded", kUnknownRankOutput},
    {"test_layer_normalization_3d_axis1_epsilon_expanded", kUnknownRankOutput},
    {"test_layer_normalization_3d_axis2_epsilon_expanded", kUnknownRankOutput},
    {"test_layer_normalization_3d_axis_negative_1_epsilon_expanded", kUnknownRankOutput},
    {"test_layer_normalization_3d_axis_negative_2_epsilon_expanded", kUnknownRankOutput},
    {"test_layer_normalization_3d_axis_negative_3_epsilon_expanded", kUnknownRankOutput},
    {"test_layer_normalization_4d_axis0_expanded", kUnknownRankOutput},
    {"test_layer_normalization_4d_axis1_expanded", kUnknownRankOutput},
    {"test_layer_normalization_4d_axis2_expanded", kUnknownRankOutput},
    {"test_layer_normalization_4d_axis3_expanded", kUnknownRankOutput},
    {"test_layer_normalization_4d_axis_negative_1_expanded", kUnknownRankOutput},
    {"test_layer_normalization_4d_axis_negative_2_expanded", kUnknownRankOutput},
    {"test_layer_normalization_4d_axis_negative_3_expanded", kUnknownRankOutput},
    {"test_layer_normalization_4d_axis_negative_4_expanded", kUnknownRankOutput},
    {"test_layer_normalization_default_axis_expanded", kUnknownRankOutput},
    {"test_range_float_type_positive_delta_expanded", kUnknownRankOutput},
    {"test_range_int32_type_negative_delta_expanded", kUnknownRankOutput},
};

// libonnx's checker plus strict shape inference (type checks, errors thrown),
// which also compares every declared input/output type with ONNX's own.
std::string onnx_check(const onnx::ModelProto& m) {
  try {
    onnx::checker::check_model(m);
    onnx::ModelProto copy = m;
    onnx::shape_inference::InferShapes(copy, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(true, 1, false));
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

Expected<ImportedModel> reimport(const onnx::ModelProto& m, const std::string& base_dir = "") {
  std::string bytes;
  if (!m.SerializeToString(&bytes)) return error("cannot serialise");
  return import_onnx_bytes(bytes, base_dir);
}

std::string first_difference(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
  if (a.size() != b.size()) return fmt::format("{} outputs vs {}", a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k)
    if (!a[k].identical(b[k])) return fmt::format("output {} differs", k);
  return "";
}

std::vector<const Tensor*> ptrs(const std::vector<Tensor>& ts) {
  std::vector<const Tensor*> p;
  for (auto& t : ts) p.push_back(&t);
  return p;
}

// ONNX 1.12 stores bfloat16 test tensors as UINT16 bit patterns.
void fix_bf16(Tensor& t, DType want) {
  if (want != DType::BF16 || t.dtype() != DType::U16) return;
  Tensor b(DType::BF16, t.dims());
  std::memcpy(b.raw(), t.raw(), t.nbytes());
  t = std::move(b);
}

struct DataSet {
  std::vector<Tensor> inputs, expected;
};

std::vector<DataSet> read_data_sets(const fs::path& dir, const Graph& g) {
  std::vector<fs::path> sets;
  for (auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().rfind("test_data_set_", 0) == 0)
      sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  std::vector<DataSet> out;
  for (auto& s : sets) {
    DataSet d;
    for (size_t k = 0; fs::exists(s / fmt::format("input_{}.pb", k)); ++k) {
      auto t = read_tensor_pb((s / fmt::format("input_{}.pb", k)).string());
      if (!t) return {};
      if (k < g.inputs.size()) fix_bf16(*t, g.inputs[k]->type.dtype);
      d.inputs.push_back(std::move(*t));
    }
    for (size_t k = 0; fs::exists(s / fmt::format("output_{}.pb", k)); ++k) {
      auto t = read_tensor_pb((s / fmt::format("output_{}.pb", k)).string());
      if (!t) return {};
      d.expected.push_back(std::move(*t));
    }
    out.push_back(std::move(d));
  }
  return out;
}

// The conformance runner's tolerance overrides (test -> rtol, atol).
std::map<std::string, Tolerance> tolerance_overrides() {
  std::map<std::string, Tolerance> out;
  std::ifstream f(std::string(WEEC_SOURCE_DIR) + "/tests/conformance/tolerances.tsv");
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ss(line);
    std::string name, rtol, atol;
    if (std::getline(ss, name, '\t') && std::getline(ss, rtol, '\t') && std::getline(ss, atol, '\t'))
      out[name] = Tolerance{std::stod(rtol), std::stod(atol)};
  }
  return out;
}

bool matches_expected(const std::vector<Tensor>& got, std::vector<Tensor> want, const Tolerance& tol) {
  if (got.size() != want.size()) return false;
  for (size_t k = 0; k < got.size(); ++k) {
    fix_bf16(want[k], got[k].dtype());
    if (!compare_tensors(got[k], want[k], tol).mismatch.empty()) return false;
  }
  return true;
}

// Empty when `dir`'s model round-trips; else why not. `interp_pass` says
// whether the first import reproduced the suite's expected outputs.
std::string round_trip(const fs::path& dir, const Tolerance& tol, bool& imported, bool& interp_pass,
                       int& compared) {
  imported = interp_pass = false;
  auto m1 = import_onnx_file((dir / "model.onnx").string());
  if (!m1) return "not imported";
  imported = true;
  const Graph& g1 = *m1->graph;
  auto sets = read_data_sets(dir, g1);
  std::vector<std::vector<Tensor>> first;
  interp_pass = !sets.empty();
  for (auto& s : sets) {
    auto out = s.inputs.size() == g1.inputs.size() ? run_graph(g1, ptrs(s.inputs))
                                                   : Expected<std::vector<Tensor>>(error("input count"));
    interp_pass = interp_pass && out && matches_expected(*out, s.expected, tol);
    first.push_back(out ? std::move(*out) : std::vector<Tensor>{});
  }
  auto proto = export_onnx(g1);
  if (!proto) return "export: " + proto.status().message();
  if (std::string c = onnx_check(*proto); !c.empty()) return "onnx check: " + c;
  auto m2 = reimport(*proto, dir.string());
  if (!m2) return "re-import: " + m2.status().message();
  const Graph& g2 = *m2->graph;
  if (g2.inputs.size() != g1.inputs.size() || g2.outputs.size() != g1.outputs.size())
    return "re-import changed the interface";
  for (size_t i = 0; i < g1.inputs.size(); ++i)
    if (g2.inputs[i]->name != g1.inputs[i]->name || !(g2.inputs[i]->type == g1.inputs[i]->type))
      return fmt::format("input {} changed: {} vs {}", i, type_str(g2.inputs[i]->type),
                         type_str(g1.inputs[i]->type));
  for (size_t k = 0; k < g1.outputs.size(); ++k)
    if (g2.outputs[k]->name != g1.outputs[k]->name) return fmt::format("output {} was renamed", k);
  for (size_t s = 0; s < sets.size(); ++s) {
    if (first[s].empty()) continue;  // the first import could not run this set either
    auto out = run_graph(g2, ptrs(sets[s].inputs));
    if (!out) return "re-imported run: " + out.status().message();
    if (std::string d = first_difference(*out, first[s]); !d.empty())
      return fmt::format("data set {}: {}", s, d);
    compared += (int)out->size();
  }
  return "";
}

TEST(OnnxExport, NodeSuiteRoundTrips) {
  if (!fs::is_directory(kNodeSuite)) GTEST_SKIP() << "libonnx-testdata is not installed";
  std::vector<fs::path> dirs;
  for (auto& e : fs::directory_iterator(kNodeSuite))
    if (e.is_directory()) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  auto overrides = tolerance_overrides();
  int imported_n = 0, interp_n = 0, round_trip_n = 0, interp_and_round_trip = 0, compared = 0;
  for (auto& dir : dirs) {
    std::string name = dir.filename().string();
    Tolerance tol;
    if (auto it = overrides.find(name); it != overrides.end()) tol = it->second;
    bool imported = false, interp_pass = false;
    std::string why = round_trip(dir, tol, imported, interp_pass, compared);
    imported_n += imported;
    interp_n += interp_pass;
    round_trip_n += imported && why.empty();
    interp_and_round_trip += interp_pass && why.empty();
    if (!interp_pass || !imported) continue;
    if (kExceptions.count(name)) {
      if (why.empty()) {
        std::printf("note: %s round-trips now; drop it from kExceptions\n", name.c_str());
      } else {  // it must fail for the documented reason, not another one
        EXPECT_NE(why.find(kUnknownRankSymptom), std::string::npos) << name << ": " << why;
      }
      continue;
    }
    EXPECT_EQ(why, "") << name;
  }
  std::printf(
      "ONNX export round trip: %d of %d imported node tests; %d of the %d the interpreter passes "
      "(%zu documented exceptions); %d output tensors bitwise identical\n",
      round_trip_n, imported_n, interp_and_round_trip, interp_n, kExceptions.size(), compared);
  EXPECT_GE(interp_and_round_trip, interp_n - (int)kExceptions.size());
  EXPECT_GT(interp_n, 800);  // the suite is really there and was really run
}

Tensor random_f32(const Dims& d, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-2.f, 2.f);
  std::vector<float> v(numel_of(d));
  for (float& x : v) x = u(rng);
  return Tensor::from_vector<float>(d, v);
}

std::vector<std::string> op_types(const onnx::GraphProto& g) {
  std::vector<std::string> out;
  for (auto& n : g.node()) out.push_back(n.op_type());
  return out;
}

// Exports `g`, checks the model, re-imports it and compares the interpreter's
// outputs on `inputs` bitwise with `want`. Returns the exported model.
onnx::ModelProto export_and_compare(const Graph& g, const std::vector<Tensor>& inputs,
                                    const std::vector<Tensor>& want) {
  auto proto = export_onnx(g);
  EXPECT_TRUE(proto.has_value()) << proto.status().message();
  if (!proto) return {};
  EXPECT_EQ(onnx_check(*proto), "");
  auto back = reimport(*proto);
  EXPECT_TRUE(back.has_value()) << back.status().message();
  if (!back) return *proto;
  auto got = run_graph(*back->graph, ptrs(inputs));
  EXPECT_TRUE(got.has_value()) << got.status().message();
  if (got) {
    EXPECT_EQ(first_difference(*got, want), "");
  }
  return *proto;
}

// conv -> relu -> add(residual) -> conv -> relu, through the real -O2
// pipeline: the fuse pass makes Fused nodes, the export has the ops again.
TEST(OnnxExport, OptimisedGraphWithFusedNodes) {
  Graph g;
  Builder b{g, infer_node};
  std::mt19937 rng{3};
  Value* x = b.input("x", static_type(DType::F32, {1, 3, 6, 6}));
  AttrMap pads = {{"pads", Attribute::of_ints({1, 1, 1, 1})}};
  Value* c1 =
      b.op(OpKind::Conv,
           {x, b.constant("w1", random_f32({3, 3, 3, 3}, rng)), b.constant("b1", random_f32({3}, rng))}, pads,
           "conv1");
  Value* r1 = b.op(OpKind::Relu, {c1}, {}, "relu1");
  Value* sum = b.op(OpKind::Add, {r1, x}, {}, "add");
  Value* c2 = b.op(OpKind::Conv, {sum, b.constant("w2", random_f32({2, 3, 3, 3}, rng))}, pads, "conv2");
  Value* y = b.op(OpKind::Relu, {c2}, {}, "relu2");
  y->name = "y";
  b.output(y);
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();

  std::vector<Tensor> inputs = {random_f32({1, 3, 6, 6}, rng)};
  auto want = run_graph(g, ptrs(inputs));  // the unoptimised graph: the reference
  ASSERT_TRUE(want.has_value()) << want.status().message();

  auto pipe = pipeline("O2");
  ASSERT_TRUE(pipe.has_value());
  PassContext ctx;
  ASSERT_TRUE(PassManager(*pipe).run(g, ctx).is_ok());
  int fused = 0;
  for (auto& n : g.nodes()) fused += n->op == OpKind::Fused;
  ASSERT_GE(fused, 1) << "the -O2 pipeline made no Fused node; this test would test nothing";

  onnx::ModelProto m = export_and_compare(g, inputs, *want);
  std::vector<std::string> ops = op_types(m.graph());
  EXPECT_EQ(std::count(ops.begin(), ops.end(), "Conv"), 2);
  EXPECT_EQ(std::count(ops.begin(), ops.end(), "Relu"), 2);
  EXPECT_EQ(std::count(ops.begin(), ops.end(), "Add"), 1);
  EXPECT_EQ(ops.size(), 5u);
  ASSERT_EQ(m.graph().output_size(), 1);
  EXPECT_EQ(m.graph().output(0).name(), "y");
  EXPECT_EQ(m.graph().input(0).name(), "x");
  EXPECT_EQ(m.opset_import(0).version(), kExportOpset);
}

// Every weec-internal op (no ONNX op type) but Fused is refused, naming the
// node and op; so are legacy ops opset 17 no longer has.
TEST(OnnxExport, RefusesOpsOnnxCannotExpress) {
  int internal = 0;
  for (int k = 0; k < kNumOps; ++k) {
    OpKind op = (OpKind)k;
    const OpSchema& s = op_schema(op);
    if (!s.onnx_type.empty() || op == OpKind::Fused) continue;
    ++internal;
    Graph g;
    std::vector<Value*> ins, outs;
    for (int i = 0; i < std::max(s.min_inputs, 0); ++i)
      ins.push_back(g.add_input(fmt::format("in{}", i), static_type(DType::F32, {2})));
    for (int i = 0; i < std::max(s.min_outputs, 1); ++i) outs.push_back(g.add_value(fmt::format("out{}", i)));
    g.add_node(op, ins, outs, {}, "the_node");
    g.outputs.push_back(outs[0]);
    auto m = export_onnx(g);
    ASSERT_FALSE(m.has_value()) << op_name(op);
    EXPECT_NE(m.status().message().find("the_node"), std::string::npos) << m.status().message();
    EXPECT_NE(m.status().message().find(std::string(op_name(op))), std::string::npos) << m.status().message();
  }
  std::printf("weec-internal ops other than Fused: %d, all refused\n", internal);

  for (OpKind legacy : {OpKind::Upsample, OpKind::Scatter}) {
    Graph g;
    Value* x = g.add_input("x", static_type(DType::F32, {1, 1, 2, 2}));
    Value* s = g.add_constant("s", Tensor::from_vector<float>({4}, {1, 1, 2, 2}));
    Value* y = g.add_value("y", static_type(DType::F32, {1, 1, 4, 4}));
    std::vector<Value*> ins = {x, s};
    if (legacy == OpKind::Scatter) ins.push_back(x);
    g.add_node(legacy, ins, {y}, {}, "old_op");
    g.outputs.push_back(y);
    auto m = export_onnx(g);
    ASSERT_FALSE(m.has_value());
    EXPECT_NE(m.status().message().find("node 'old_op'"), std::string::npos) << m.status().message();
    EXPECT_NE(m.status().message().find("ONNX opset 17 has no " + std::string(op_name(legacy))),
              std::string::npos)
        << m.status().message();
  }
}

// A per-axis DequantizeLinear whose scale the importer reshaped to [C,1,1]
// goes back to ONNX's 1-D scale with axis; ReduceMean's axes input goes back
// to the attribute (opset 17 has no axes input for it); a computed axes input
// is refused by name.
TEST(OnnxExport, WritesOpset17FormsOfCanonicalisedOps) {
  Graph g;
  Builder b{g, infer_node};
  Value* q = b.input("q", static_type(DType::I8, {1, 3, 2, 2}));
  Value* scale = b.constant("scale", Tensor::from_vector<float>({3, 1, 1}, {0.5f, 0.25f, 2.f}));
  Value* zp = b.constant("zp", Tensor::from_vector<int8_t>({3, 1, 1}, {1, -2, 3}));
  Value* dq = b.op(OpKind::DequantizeLinear, {q, scale, zp}, {}, "dq");
  Value* mean = b.op(OpKind::ReduceMean, {dq, b.constant("axes", Tensor::from_vector<int64_t>({2}, {2, 3}))},
                     {}, "mean");
  mean->name = "mean";
  b.output(mean);
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  std::vector<int8_t> qv(12);
  for (int i = 0; i < 12; ++i) qv[i] = (int8_t)(i * 11 - 60);
  std::vector<Tensor> inputs = {Tensor::from_vector<int8_t>({1, 3, 2, 2}, qv)};
  // Independent reference: mean over each channel's 4 values of s_c * (q - zp_c).
  const float s[3] = {0.5f, 0.25f, 2.f};
  const int z[3] = {1, -2, 3};
  std::vector<float> want_v(3);
  for (int c = 0; c < 3; ++c) {
    double acc = 0;
    for (int i = 0; i < 4; ++i) acc += (float)(qv[c * 4 + i] - z[c]) * s[c];
    want_v[c] = (float)(acc / 4);
  }
  auto direct = run_graph(g, ptrs(inputs));
  ASSERT_TRUE(direct.has_value()) << direct.status().message();
  ASSERT_EQ((*direct)[0].dims(), (Dims{1, 3, 1, 1}));
  for (int c = 0; c < 3; ++c) EXPECT_FLOAT_EQ((*direct)[0].data<float>()[c], want_v[c]);

  onnx::ModelProto m = export_and_compare(g, inputs, *direct);
  ASSERT_EQ(m.graph().node_size(), 2);
  const onnx::NodeProto& dqn = m.graph().node(0);
  EXPECT_EQ(dqn.op_type(), "DequantizeLinear");
  ASSERT_EQ(dqn.attribute_size(), 1);
  EXPECT_EQ(dqn.attribute(0).name(), "axis");
  EXPECT_EQ(dqn.attribute(0).i(), 1);
  for (auto& init : m.graph().initializer()) {
    EXPECT_NE(init.name(), "axes");  // the attribute replaced it; unused constants are not written
    if (init.name().rfind("scale", 0) == 0 || init.name().rfind("zp", 0) == 0) {
      EXPECT_EQ(init.dims_size(), 1) << init.name();
    }
  }
  const onnx::NodeProto& mn = m.graph().node(1);
  ASSERT_EQ(mn.input_size(), 1);
  ASSERT_EQ(mn.attribute_size(), 1);
  EXPECT_EQ(mn.attribute(0).name(), "axes");
  EXPECT_EQ(std::vector<int64_t>(mn.attribute(0).ints().begin(), mn.attribute(0).ints().end()),
            (std::vector<int64_t>{2, 3}));

  // axes computed at run time: opset 17 cannot say that for ReduceMean.
  Graph h;
  Builder hb{h, infer_node};
  Value* x = hb.input("x", static_type(DType::F32, {2, 3}));
  Value* axes = hb.input("axes", static_type(DType::I64, {1}));
  hb.output(hb.op(OpKind::ReduceMean, {x, axes}, {}, "dyn_mean"));
  ASSERT_TRUE(hb.status().is_ok()) << hb.status().message();
  auto bad = export_onnx(h);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.status().message().find("node 'dyn_mean' (ReduceMean)"), std::string::npos)
      << bad.status().message();
}

// Resize's opset-10 rounding ("simple": ceil where an axis shrinks, floor
// where it grows) becomes ONNX's floor or ceil; Split without sizes on an
// axis that does not divide (5 into 2) gets explicit sizes, as opset 17
// requires even splits otherwise. Outputs are compared with hand-computed
// values and with the original graph.
TEST(OnnxExport, ResizeOpset10RoundingAndUnevenSplit) {
  for (float scale : {2.f, 0.5f}) {
    Graph g;
    Builder b{g, infer_node};
    Value* x = b.input("x", static_type(DType::F32, {1, 1, 1, 4}));
    AttrMap attrs = {{"mode", Attribute::of_string("nearest")},
                     {"coordinate_transformation_mode", Attribute::of_string("asymmetric")},
                     {"nearest_mode", Attribute::of_string("simple")}};
    Value* sc = b.constant("scales", Tensor::from_vector<float>({4}, {1, 1, 1, scale}));
    b.output(b.op(OpKind::Resize, {x, nullptr, sc}, attrs, "resize"));
    ASSERT_TRUE(b.status().is_ok()) << b.status().message();
    std::vector<Tensor> inputs = {Tensor::from_vector<float>({1, 1, 1, 4}, {10, 20, 30, 40})};
    // x_in = x_out / scale: growing, floor(i / 2) -> 10 10 20 20 30 30 40 40;
    // shrinking, ceil(2 i) -> inputs 0 and 2.
    std::vector<Tensor> want = {
        scale > 1 ? Tensor::from_vector<float>({1, 1, 1, 8}, {10, 10, 20, 20, 30, 30, 40, 40})
                  : Tensor::from_vector<float>({1, 1, 1, 2}, {10, 30})};
    auto direct = run_graph(g, ptrs(inputs));
    ASSERT_TRUE(direct.has_value()) << direct.status().message();
    EXPECT_EQ(first_difference(*direct, want), "");
    onnx::ModelProto m = export_and_compare(g, inputs, want);
    bool found = false;
    for (auto& a : m.graph().node(0).attribute())
      if (a.name() == "nearest_mode") {
        found = true;
        EXPECT_EQ(a.s(), scale > 1 ? "floor" : "ceil");
      }
    EXPECT_TRUE(found);
  }

  Graph g;
  Builder b{g, infer_node};
  Value* x = b.input("x", static_type(DType::I32, {5}));
  auto parts = b.op_n(OpKind::Split, {x}, 2, {}, "split");
  for (Value* p : parts) b.output(p);
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();
  std::vector<Tensor> inputs = {Tensor::from_vector<int32_t>({5}, {1, 2, 3, 4, 5})};
  std::vector<Tensor> want = {Tensor::from_vector<int32_t>({3}, {1, 2, 3}),
                              Tensor::from_vector<int32_t>({2}, {4, 5})};
  onnx::ModelProto m = export_and_compare(g, inputs, want);
  ASSERT_EQ(m.graph().node(0).input_size(), 2);
  ASSERT_EQ(m.graph().initializer_size(), 1);
  EXPECT_EQ(m.graph().initializer(0).raw_data(),
            std::string((const char*)std::vector<int64_t>{3, 2}.data(), 16));
}

// If branches defining the same names as the enclosing graph, reading outer
// values and holding their own constants; a constant graph output and an
// output listed twice. ONNX forbids shadowing, so names must be made unique.
TEST(OnnxExport, SubgraphScopingAndOutputNames) {
  Graph g;
  Builder b{g, infer_node};
  Value* x = b.input("x", static_type(DType::F32, {3}));
  Value* cond = b.input("cond", static_type(DType::Bool, {}));
  auto branch = [&](OpKind op, float k) {
    auto sg = std::make_shared<Graph>();
    sg->parent = &g;
    sg->name = "branch";
    Builder sb{*sg, infer_node};
    Value* r = sb.op(op, {x, sb.constant("k", Tensor::scalar<float>(k))});
    r->name = "y";  // the same name as the outer output
    sb.output(r);
    EXPECT_TRUE(sb.status().is_ok()) << sb.status().message();
    return sg;
  };
  AttrMap attrs = {{"then_branch", Attribute::of_graph(branch(OpKind::Add, 10.f))},
                   {"else_branch", Attribute::of_graph(branch(OpKind::Mul, -1.f))}};
  Value* y = b.op(OpKind::If, {cond}, attrs, "if");
  y->name = "y";
  b.output(y);
  b.output(y);                                                             // twice
  b.output(b.constant("k", Tensor::from_vector<float>({2}, {7.f, 8.f})));  // a constant output
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();

  for (bool c : {true, false}) {
    std::vector<Tensor> inputs = {Tensor::from_vector<float>({3}, {1.f, -2.f, 3.5f}),
                                  Tensor::from_vector<bool>({}, {c})};
    std::vector<float> yv = c ? std::vector<float>{11.f, 8.f, 13.5f} : std::vector<float>{-1.f, 2.f, -3.5f};
    std::vector<Tensor> want = {Tensor::from_vector<float>({3}, yv), Tensor::from_vector<float>({3}, yv),
                                Tensor::from_vector<float>({2}, {7.f, 8.f})};
    onnx::ModelProto m = export_and_compare(g, inputs, want);
    ASSERT_EQ(m.graph().output_size(), 3);
    EXPECT_EQ(m.graph().output(0).name(), "y");
    EXPECT_NE(m.graph().output(1).name(), "y");
    EXPECT_EQ(m.graph().output(2).name(), "k");
  }
}

// A constant of every dtype the IR has, read by an Identity, becomes an
// initializer: raw little-endian bytes (bool one byte each, f16/bf16 their
// bits), strings in string_data. Input types keep known, symbolic and unknown
// dims. Values are compared with what the test wrote, not with the exporter.
TEST(OnnxExport, InitializersOfEveryDtypeAndSymbolicInputDims) {
  Graph g;
  Builder b{g, infer_node};
  TensorType in_type{DType::F32, Shape{true, {Dim::named("N"), Dim::unknown(), Dim::known(3)}}};
  b.output(b.op(OpKind::Relu, {b.input("x", in_type)}, {}, "relu"));
  std::vector<Tensor> want;
  auto add = [&](Tensor t) {
    want.push_back(t);
    Value* c = b.constant(fmt::format("c_{}", dtype_name(t.dtype())), std::move(t));
    b.output(b.op(OpKind::Identity, {c}));
  };
  add(Tensor::from_vector<float>({2}, {1.5f, -0.f}));
  add(Tensor::from_vector<double>({1}, {1e300}));
  add(Tensor::from_vector<Half>({2}, {Half{0x3c00}, Half{0xfc00}}));              // 1, -inf
  add(Tensor::from_vector<BFloat16>({2}, {BFloat16{0x3f80}, BFloat16{0x7fc1}}));  // 1, a NaN payload
  add(Tensor::from_vector<int8_t>({2}, {-128, 127}));
  add(Tensor::from_vector<uint8_t>({2}, {0, 255}));
  add(Tensor::from_vector<int16_t>({2}, {-32768, 7}));
  add(Tensor::from_vector<uint16_t>({1}, {65535}));
  add(Tensor::from_vector<int32_t>({2}, {INT32_MIN, 5}));
  add(Tensor::from_vector<uint32_t>({1}, {4000000000u}));
  add(Tensor::from_vector<int64_t>({2, 1}, {INT64_MIN, -1}));
  add(Tensor::from_vector<uint64_t>({1}, {UINT64_MAX}));
  add(Tensor::from_vector<bool>({3}, {true, false, true}));
  Tensor s(DType::String, {2});
  s.strings() = {"weec", ""};
  add(s);
  ASSERT_TRUE(b.status().is_ok()) << b.status().message();

  auto proto = export_onnx(g);
  ASSERT_TRUE(proto.has_value()) << proto.status().message();
  EXPECT_EQ(onnx_check(*proto), "");
  const auto& gp = proto->graph();
  ASSERT_EQ(gp.initializer_size(), (int)want.size());
  for (int i = 0; i < gp.initializer_size(); ++i) {
    const onnx::TensorProto& p = gp.initializer(i);
    EXPECT_EQ(p.name(), fmt::format("c_{}", dtype_name(want[i].dtype())));
    if (want[i].dtype() == DType::String) {
      ASSERT_EQ(p.string_data_size(), 2);
      EXPECT_EQ(p.string_data(0), "weec");
      EXPECT_FALSE(p.has_raw_data());
    } else {
      EXPECT_EQ(p.raw_data(), std::string((const char*)want[i].raw(), want[i].nbytes())) << p.name();
    }
  }
  EXPECT_EQ(gp.initializer(0).raw_data(), std::string("\x00\x00\xc0\x3f\x00\x00\x00\x80", 8));  // LE
  const auto& dims = gp.input(0).type().tensor_type().shape();
  ASSERT_EQ(dims.dim_size(), 3);
  EXPECT_EQ(dims.dim(0).dim_param(), "N");
  EXPECT_FALSE(dims.dim(1).has_dim_param() || dims.dim(1).has_dim_value());
  EXPECT_EQ(dims.dim(2).dim_value(), 3);

  auto back = reimport(*proto);
  ASSERT_TRUE(back.has_value()) << back.status().message();
  EXPECT_EQ(back->graph->inputs[0]->type, in_type);
  Tensor x = Tensor::from_vector<float>({1, 2, 3}, {-1, 2, -3, 4, -5, 6});
  auto got = run_graph(*back->graph, {&x});
  ASSERT_TRUE(got.has_value()) << got.status().message();
  ASSERT_EQ(got->size(), want.size() + 1);
  EXPECT_TRUE((*got)[0].identical(Tensor::from_vector<float>({1, 2, 3}, {0, 2, 0, 4, 0, 6})));
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i].dtype() == DType::String) {
      EXPECT_EQ((*got)[i + 1].strings(), want[i].strings());
    } else {
      EXPECT_TRUE((*got)[i + 1].identical(want[i])) << dtype_name(want[i].dtype());
    }
  }
}

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> out;
  for (auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// write_onnx replaces the target only when everything succeeded and leaves no
// temporary file behind either way.
TEST(OnnxExport, WritesAtomically) {
  fs::path dir = fs::temp_directory_path() / fmt::format("weec_export_test_{}", ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  Graph g;
  Builder b{g, infer_node};
  b.output(b.op(OpKind::Relu, {b.input("x", static_type(DType::F32, {2}))}, {}, "relu"));
  std::string path = (dir / "m.onnx").string();
  ExportSummary s;
  ASSERT_TRUE(write_onnx(g, path, {}, &s).is_ok());
  EXPECT_EQ(files_in(dir), (std::vector<std::string>{"m.onnx"}));
  EXPECT_EQ(s.nodes, 1);
  EXPECT_EQ(s.initializers, 0);
  EXPECT_EQ(s.bytes, (int64_t)fs::file_size(path));
  auto back = import_onnx_file(path);
  ASSERT_TRUE(back.has_value()) << back.status().message();
  EXPECT_EQ(back->graph->nodes().size(), 1u);

  // A graph that cannot be exported leaves the old file as it was.
  Graph bad;
  Value* x = bad.add_input("x", static_type(DType::F32, {1, 1, 2, 2}));
  Value* y = bad.add_value("y", static_type(DType::F32, {1, 1, 4, 4}));
  bad.add_node(OpKind::Upsample, {x, bad.add_constant("s", Tensor::from_vector<float>({4}, {1, 1, 2, 2}))},
               {y});
  bad.outputs.push_back(y);
  auto before = fs::file_size(path);
  EXPECT_FALSE(write_onnx(bad, path).is_ok());
  EXPECT_EQ(fs::file_size(path), before);
  EXPECT_EQ(files_in(dir), (std::vector<std::string>{"m.onnx"}));
  // An unwritable place: an error naming the path, nothing created.
  Status st = write_onnx(g, (dir / "no_such_dir" / "m.onnx").string());
  EXPECT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("no_such_dir"), std::string::npos) << st.message();
  EXPECT_EQ(files_in(dir), (std::vector<std::string>{"m.onnx"}));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace weec
