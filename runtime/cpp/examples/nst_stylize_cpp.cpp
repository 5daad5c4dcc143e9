// Example host: nst-stylize-cpp MODEL IN.png OUT.png
//
// Reads any image stb_image reads (PNG, JPEG, BMP, ...; alpha is dropped, gray is expanded to
// RGB), stylizes it through the C++ wrapper and writes OUT as PNG. Exit codes: 0 done,
// 1 nst or image error (one line on stderr), 2 usage.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include "nst/nst.hpp"

namespace {

struct StbFree {
  void operator()(unsigned char* p) const { stbi_image_free(p); }
};

int usage() {
  std::fprintf(stderr,
               "usage: nst-stylize-cpp [--threads N] MODEL.onnx IN_IMAGE OUT.png\n"
               "stylize one image with an exported nst model (libnst %s)\n",
               nst_version());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  nst_options options = nst::default_options();
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      char* end = nullptr;
      const long threads = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || threads < 0 || threads > 1024) return usage();
      options.num_threads = static_cast<int32_t>(threads);
    } else if (std::strcmp(argv[i], "-h") == 0 || std::strcmp(argv[i], "--help") == 0) {
      return usage();
    } else {
      args.emplace_back(argv[i]);
    }
  }
  if (args.size() != 3) return usage();
  const std::string &model = args[0], &input = args[1], &output = args[2];

  int width = 0, height = 0, channels = 0;
  std::unique_ptr<unsigned char, StbFree> rgb(stbi_load(input.c_str(), &width, &height, &channels, 3));
  if (!rgb) {
    std::fprintf(stderr, "error: cannot read image %s: %s\n", input.c_str(), stbi_failure_reason());
    return 1;
  }
  try {
    nst::Stylizer stylizer(model, options);
    std::vector<uint8_t> out = stylizer.stylize(rgb.get(), width, height);
    if (!stbi_write_png(output.c_str(), width, height, 3, out.data(), width * 3)) {
      std::fprintf(stderr, "error: cannot write %s\n", output.c_str());
      return 1;
    }
  } catch (const nst::Error& e) {
    std::fprintf(stderr, "error: %s (%s)\n", e.what(), nst_status_name(e.status()));
    return 1;
  }
  std::printf("%s: %dx%d -> %s\n", input.c_str(), width, height, output.c_str());
  return 0;
}
