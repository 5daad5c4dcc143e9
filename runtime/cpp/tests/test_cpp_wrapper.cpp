// The RAII wrapper (nst.hpp): errors become nst::Error with the C status; moves transfer the
// handle; the vector overload returns a packed image equal to the C call's.
//
// usage: test_cpp_wrapper FIXTURE_DIR
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "nst/nst.hpp"

namespace {

int failures = 0;

void check(bool ok, const char* what) {
  std::printf("%s %s\n", ok ? "ok" : "FAIL", what);
  failures += ok ? 0 : 1;
}

nst_status status_of_create(const std::string& path) {
  try {
    nst::Stylizer stylizer(path);
  } catch (const nst::Error& e) {
    return e.status();
  }
  return NST_OK;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::string dir = argv[1];
  check(status_of_create(dir + "/missing.onnx") == NST_ERR_FILE_NOT_FOUND, "missing file throws");
  check(status_of_create(dir + "/corrupt.onnx") == NST_ERR_MODEL_INVALID, "corrupt model throws");

  nst::Stylizer first(dir + "/tiny.onnx");
  nst::Stylizer stylizer(std::move(first));
  check(first.get() == nullptr && stylizer.get() != nullptr, "move transfers the handle");
  check(stylizer.family() == "johnson" && stylizer.min_size() == 16, "metadata accessors");

  const int32_t w = 33, h = 21;
  std::vector<uint8_t> rgb(static_cast<size_t>(w * h * 3));
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(i * 7 % 256);
  std::vector<uint8_t> packed = stylizer.stylize(rgb.data(), w, h);
  std::vector<uint8_t> via_c(rgb.size());
  check(nst_stylize(stylizer.get(), rgb.data(), w, h, w * 3, via_c.data()) == NST_OK &&
            packed == via_c,
        "vector overload equals the C call");
  bool threw = false;
  try {
    stylizer.stylize(rgb.data(), 8, 8);
  } catch (const nst::Error& e) {
    threw = e.status() == NST_ERR_IMAGE_TOO_SMALL;
  }
  check(threw, "too-small image throws NST_ERR_IMAGE_TOO_SMALL");
  std::printf("%s: %d failure(s)\n", failures ? "FAILED" : "PASSED", failures);
  return failures ? 1 : 0;
}
