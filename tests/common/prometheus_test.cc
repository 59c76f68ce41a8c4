#include "common/prometheus.h"

#include <gtest/gtest.h>

namespace tideline {
namespace {

TEST(PrometheusWriterTest, WritesFamiliesAndSamplesInTheTextFormat) {
  PrometheusWriter w;
  w.Counter("a_total", "Things.", 3);
  w.Family("b", "gauge", "");
  w.Sample("b", {{"x", "1"}, {"y", "2"}}, uint64_t{7});
  w.Sample("c_sum", {}, 0.5);
  EXPECT_EQ(w.Take(),
            "# HELP a_total Things.\n# TYPE a_total counter\na_total 3\n"
            "# TYPE b gauge\nb{x=\"1\",y=\"2\"} 7\n"
            "c_sum 0.500000\n");
  EXPECT_EQ(w.Take(), "");
}

TEST(PrometheusWriterTest, EscapesLabelValuesAndHelpText) {
  PrometheusWriter w;
  w.Family("m", "counter", "line\nbreak \\ slash");
  w.Sample("m", {{"pipeline", "we\"b\\x\ny"}}, uint64_t{1});
  EXPECT_EQ(w.Take(),
            "# HELP m line\\nbreak \\\\ slash\n# TYPE m counter\n"
            "m{pipeline=\"we\\\"b\\\\x\\ny\"} 1\n");
}

}  // namespace
}  // namespace tideline
