/* Error paths and contracts of the C ABI, compiled as C11 (proves nst.h is valid C).
 *
 * usage: test_c_api FIXTURE_DIR   (files from tests/runtime/cpp_fixture.py make)
 * Every check prints its name; any failure makes the exit code 1.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nst/nst.h"

static int failures = 0;
static char fixture[4096];

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "FAIL %s:%d: %s (last error: %s: %s)\n", __FILE__,   \
              __LINE__, #cond, nst_status_name(nst_last_status()),         \
              nst_last_error());                                           \
      ++failures;                                                          \
    }                                                                      \
  } while (0)

static const char* path_of(const char* name) {
  static char path[4200];
  snprintf(path, sizeof path, "%s/%s", fixture, name);
  return path;
}

/* create() must fail with `status` and a message containing `needle`. */
static void expect_create_fails(const char* path, const nst_options* options, nst_status status,
                                const char* needle) {
  nst_stylizer* s = nst_stylizer_create(path, options);
  CHECK(s == NULL);
  CHECK(nst_last_status() == status);
  CHECK(strstr(nst_last_error(), needle) != NULL);
  printf("ok create -> %s: %s\n", nst_status_name(nst_last_status()), nst_last_error());
  nst_stylizer_destroy(s);
}

static void test_create_errors(void) {
  nst_options options;
  expect_create_fails(NULL, NULL, NST_ERR_INVALID_ARGUMENT, "model_path is NULL");
  expect_create_fails(path_of("missing.onnx"), NULL, NST_ERR_FILE_NOT_FOUND, "missing.onnx");
  expect_create_fails(fixture, NULL, NST_ERR_FILE_NOT_FOUND, "model file not found");
  expect_create_fails(path_of("corrupt.onnx"), NULL, NST_ERR_MODEL_INVALID, "cannot load model");
  expect_create_fails(path_of("nometa.onnx"), NULL, NST_ERR_MODEL_INVALID, "no nst metadata");
  expect_create_fails(path_of("badio.onnx"), NULL, NST_ERR_MODEL_INVALID, "malformed nst.io");
  expect_create_fails(path_of("renamed.onnx"), NULL, NST_ERR_MODEL_INVALID,
                      "graph inputs [image] do not match metadata [content]");
  expect_create_fails(path_of("multi_input.onnx"), NULL, NST_ERR_MODEL_UNSUPPORTED,
                      "has inputs [image, style_weights]");
  memset(&options, 0, sizeof options); /* struct_size not set: caller skipped nst_options_init */
  expect_create_fails(path_of("tiny.onnx"), &options, NST_ERR_INVALID_ARGUMENT, "struct_size");
  nst_options_init(&options);
  options.num_threads = -1;
  expect_create_fails(path_of("tiny.onnx"), &options, NST_ERR_INVALID_ARGUMENT, "num_threads");
  nst_options_init(&options);
  options.backend = (nst_backend)42;
  expect_create_fails(path_of("tiny.onnx"), &options, NST_ERR_INVALID_ARGUMENT, "unknown backend");
#ifndef NST_TEST_WITH_TENSORRT
  nst_options_init(&options);
  options.backend = NST_BACKEND_TENSORRT;
  expect_create_fails(path_of("tiny.onnx"), &options, NST_ERR_BACKEND_UNAVAILABLE, "TensorRT");
  /* AUTO picks TensorRT by the .plan suffix; this build has none. */
  expect_create_fails(path_of("fake.plan"), NULL, NST_ERR_BACKEND_UNAVAILABLE, "fake.plan");
#endif
}

static void test_stylize_errors(nst_stylizer* s) {
  uint8_t pixels[3 * 40 * 40] = {0};
  uint8_t out[3 * 40 * 40];
  CHECK(nst_stylize(NULL, pixels, 20, 20, 60, out) == NST_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nst_last_error(), "handle is NULL") != NULL);
  CHECK(nst_stylize(s, NULL, 20, 20, 60, out) == NST_ERR_INVALID_ARGUMENT);
  CHECK(nst_stylize(s, pixels, 20, 20, 60, NULL) == NST_ERR_INVALID_ARGUMENT);
  CHECK(nst_stylize(s, pixels, 0, 20, 60, out) == NST_ERR_INVALID_ARGUMENT);
  CHECK(nst_stylize(s, pixels, 20, -3, 60, out) == NST_ERR_INVALID_ARGUMENT);
  CHECK(nst_stylize(s, pixels, 20, 20, 59, out) == NST_ERR_INVALID_ARGUMENT);
  CHECK(strstr(nst_last_error(), "stride 59") != NULL);
  CHECK(nst_stylize(s, pixels, 15, 40, 45, out) == NST_ERR_IMAGE_TOO_SMALL);
  CHECK(strstr(nst_last_error(), "image 15x40 is too small") != NULL);
  CHECK(strstr(nst_last_error(), ">= 16") != NULL);
  CHECK(nst_stylize(s, pixels, 40, 15, 120, out) == NST_ERR_IMAGE_TOO_SMALL);
  printf("ok stylize argument checks\n");
}

/* Odd size, padded rows, in place: same pixels as a packed run, padding bytes untouched. */
static void test_stylize_layouts(nst_stylizer* s) {
  enum { W = 17, H = 19, STRIDE = 3 * W + 5 };
  static uint8_t packed[3 * W * H], packed_out[3 * W * H], padded[STRIDE * H];
  for (int i = 0; i < 3 * W * H; ++i) packed[i] = (uint8_t)((i * 37) % 251);
  memset(padded, 0xAB, sizeof padded);
  for (int y = 0; y < H; ++y) memcpy(padded + y * STRIDE, packed + y * 3 * W, 3 * W);
  CHECK(nst_stylize(s, packed, W, H, 3 * W, packed_out) == NST_OK);
  CHECK(nst_last_status() == NST_OK && nst_last_error()[0] == '\0');
  CHECK(nst_stylize(s, padded, W, H, STRIDE, padded) == NST_OK); /* in place */
  for (int y = 0; y < H; ++y) {
    CHECK(memcmp(padded + y * STRIDE, packed_out + y * 3 * W, 3 * W) == 0);
    for (int k = 3 * W; k < STRIDE; ++k) CHECK(padded[y * STRIDE + k] == 0xAB);
  }
  CHECK(memcmp(packed, packed_out, sizeof packed) != 0); /* the model changed the image */
  printf("ok stylize %dx%d packed, padded and in place agree\n", W, H);
}

static void* other_thread(void* arg) {
  int* ok = (int*)arg;
  /* The main thread's failure must not be visible here, and this one must not leak back. */
  *ok = nst_last_status() == NST_OK && nst_last_error()[0] == '\0';
  *ok = *ok && nst_stylize(NULL, NULL, 1, 1, 3, NULL) == NST_ERR_INVALID_ARGUMENT;
  return NULL;
}

static void test_thread_local_errors(void) {
  pthread_t thread;
  int ok = 0;
  CHECK(nst_stylizer_create(path_of("missing.onnx"), NULL) == NULL);
  CHECK(pthread_create(&thread, NULL, other_thread, &ok) == 0);
  CHECK(pthread_join(thread, NULL) == 0);
  CHECK(ok);
  CHECK(nst_last_status() == NST_ERR_FILE_NOT_FOUND);
  CHECK(strstr(nst_last_error(), "missing.onnx") != NULL);
  printf("ok errors are per thread\n");
}

int main(int argc, char** argv) {
  nst_stylizer* s;
  if (argc != 2) {
    fprintf(stderr, "usage: test_c_api FIXTURE_DIR\n");
    return 2;
  }
  snprintf(fixture, sizeof fixture, "%s", argv[1]);
  CHECK(strlen(nst_version()) > 0);
  CHECK(strcmp(nst_status_name(NST_ERR_IMAGE_TOO_SMALL), "NST_ERR_IMAGE_TOO_SMALL") == 0);
  CHECK(nst_stylizer_min_size(NULL) == -1 && strcmp(nst_stylizer_family(NULL), "") == 0);
  nst_stylizer_destroy(NULL);
  test_create_errors();
  s = nst_stylizer_create(path_of("tiny.onnx"), NULL);
  CHECK(s != NULL);
  if (s != NULL) {
    CHECK(nst_last_status() == NST_OK && nst_last_error()[0] == '\0');
    CHECK(nst_stylizer_min_size(s) == 16);
    CHECK(strcmp(nst_stylizer_family(s), "johnson") == 0);
    test_stylize_errors(s);
    test_stylize_layouts(s);
    nst_stylizer_destroy(s);
  }
  test_thread_local_errors();
  printf("%s: %d failure(s)\n", failures ? "FAILED" : "PASSED", failures);
  return failures ? 1 : 0;
}
