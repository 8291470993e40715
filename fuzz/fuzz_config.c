/* Fuzz target: the config loader (flyq_config_load, src/host/config.c),
 * which runs an operator's Lua file in a sandbox and checks what it
 * returns.
 *
 * The input is the file's text. The loader takes a path, so the input is
 * written to a memfd opened through /proc/self/fd: no file on disk, one
 * per process. Checked: the result is one of the documented codes; on
 * success the config is complete; on failure the error is one non-empty
 * line starting with the file name and cfg is left unchanged. ASan's leak
 * check covers the sandbox's cleanup on every path.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "flyq/config.h"
#include "fuzz.h"

/* The memfd's path, created on first use; "" if that failed. */
static const char *input_path(void) {
  static char path[64];
  static int fd = -1;
  if (fd < 0) {
    fd = memfd_create("flyq-fuzz-config", MFD_CLOEXEC);
    FUZZ_CHECK(fd >= 0);
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  }
  return path;
}

/* Replaces the memfd's content with data. */
static void write_input(const char *path, const uint8_t *data, size_t size) {
  FILE *f = fopen(path, "w");
  FUZZ_CHECK(f != NULL);
  FUZZ_CHECK(fwrite(data, 1, size, f) == size);
  FUZZ_CHECK(fclose(f) == 0);
}

static void check_loaded(const flyq_config_t *cfg) {
  FUZZ_CHECK(cfg->listen && cfg->http && cfg->data_dir);
  FUZZ_CHECK(cfg->ntopics == 0 || cfg->topics != NULL);
  for (size_t i = 0; i < cfg->ntopics; i++)
    FUZZ_CHECK(cfg->topics[i].name != NULL && cfg->topics[i].name[0] != '\0');
}

/* A failed load leaves cfg as it was: still the defaults of before. */
static void check_unchanged(const flyq_config_t *cfg,
                            const flyq_config_t *before) {
  FUZZ_CHECK(strcmp(cfg->listen, before->listen) == 0);
  FUZZ_CHECK(strcmp(cfg->data_dir, before->data_dir) == 0);
  FUZZ_CHECK(cfg->ntopics == 0 && cfg->topics == NULL);
  FUZZ_CHECK(cfg->max_frame_bytes == before->max_frame_bytes);
}

static void check_error(const char *path, const char *err) {
  FUZZ_CHECK(strncmp(err, path, strlen(path)) == 0);
  FUZZ_CHECK(strlen(err) > strlen(path));
  FUZZ_CHECK(strchr(err, '\n') == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = input_path();
  flyq_config_t cfg, defaults;
  char err[512];
  write_input(path, data, size);
  if (flyq_config_init(&cfg) < 0) return 0;
  if (flyq_config_init(&defaults) < 0) {
    flyq_config_free(&cfg);
    return 0;
  }
  int r = flyq_config_load(&cfg, path, err, sizeof err);
  FUZZ_CHECK(r == 0 || r == FLYQ_ERR_CONFIG || r == FLYQ_ERR_LIMIT);
  if (r == 0) {
    check_loaded(&cfg);
  } else {
    check_unchanged(&cfg, &defaults);
    check_error(path, err);
  }
  flyq_config_free(&cfg);
  flyq_config_free(&defaults);
  return 0;
}
