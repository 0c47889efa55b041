// Packed 4-bit weights: which constants qualify, their bytes, and the C that
// reads them (see q4_weights.h for the layout and the rules).
#include "ops/q4_weights.h"

namespace weec::qop {

bool int4_range(const Tensor& t) {
  if (t.dtype() != DType::I8 || t.numel() == 0) return false;
  const int8_t* p = t.data<int8_t>();
  for (int64_t i = 0; i < t.numel(); ++i)
    if (p[i] < -8 || p[i] > 7) return false;
  return true;
}

bool reads_int4_weights(OpKind op, size_t input) {
  return (op == OpKind::QGemm || op == OpKind::QConv) && input == 1;
}

std::vector<uint8_t> pack_int4(const Tensor& t) {
  std::vector<uint8_t> bytes((size_t)(t.numel() + 1) / 2, 0);
  const int8_t* p = t.data<int8_t>();
  for (int64_t i = 0; i < t.numel(); ++i) bytes[(size_t)i / 2] |= (uint8_t)((p[i] & 15) << (i % 2 * 4));
  return bytes;
}

std::string q4_at_c(CEmitBase& c) {
  return c.helper("weec_q4",
                  "/* Element i of 4-bit weights packed two per byte: element 2j in the low nibble\n"
                  " * of w[j], 2j + 1 in the high nibble, two's complement. */\n"
                  "static int32_t weec_q4(const uint8_t* w, int32_t i) {\n"
                  "  return ((((int32_t)w[i >> 1] >> ((i & 1) * 4)) & 15) ^ 8) - 8;\n"
                  "}\n");
}

namespace {

// The low and high weights of byte `b` (an int32 C expression in 0..255).
std::string lo4(const std::string& b) { return fmt::format("((({} & 15) ^ 8) - 8)", b); }
std::string hi4(const std::string& b) { return fmt::format("((({} >> 4) ^ 8) - 8)", b); }

}  // namespace

void emit_q4_dot(CEmitContext& c, const std::string& sum, const std::string& w, const std::string& row,
                 int64_t K, const std::string& x) {
  auto xk = [&](const std::string& k) { return fmt::format(fmt::runtime(x), k); };
  std::string wb = c.var("wb"), k = c.var("k"), b = c.var("b");
  c.w.open("{{");
  if (K % 2 == 0) {
    // Every row starts on a byte: K / 2 whole bytes. (A loop over bytes, not
    // over k in steps of 2, is what compilers vectorise and keep short.)
    c.w.line("const uint8_t* {} = {} + ({}) * {};", wb, w, row, K / 2);
    c.w.open("for (int32_t {0} = 0; {0} < {1}; ++{0}) {{", k, K / 2);
    c.w.line("const int32_t {} = {}[{}];", b, wb, k);
    c.w.line("{} += {} * {} + {} * {};", sum, xk("2 * " + k), lo4(b), xk("2 * " + k + " + 1"), hi4(b));
    c.w.close();
  } else {
    // Rows of odd length start on a high nibble every other row.
    std::string e = c.var("e");
    c.w.line("const int32_t {} = ({}) * {};", e, row, K);
    c.w.line("const uint8_t* {} = {} + ({} >> 1);", wb, w, e);
    c.w.line("int32_t {} = 0;", k);
    c.w.open("if ({} & 1) {{", e);
    c.w.line("{} += {} * {};", sum, xk("0"), hi4(fmt::format("(int32_t){}[0]", wb)));
    c.w.line("++{};", wb);
    c.w.line("{} = 1;", k);
    c.w.close();
    c.w.open("for (; {0} + 1 < {1}; {0} += 2, ++{2}) {{", k, K, wb);
    c.w.line("const int32_t {} = *{};", b, wb);
    c.w.line("{} += {} * {} + {} * {};", sum, xk(k), lo4(b), xk(k + " + 1"), hi4(b));
    c.w.close();
    c.w.line("if ({} < {}) {} += {} * {};", k, K, sum, xk(k), lo4(fmt::format("(int32_t){}[0]", wb)));
  }
  c.w.close();
}

}  // namespace weec::qop
