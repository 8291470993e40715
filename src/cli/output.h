/* How `flyq consume` prints a message: the value and a newline (default),
 * a kcat-style --format string, or one JSON object per line (--json).
 */
#ifndef FLYQ_CLI_OUTPUT_H
#define FLYQ_CLI_OUTPUT_H

#include <stdint.h>
#include <stdio.h>

#include "flyq/batch.h"

typedef enum flyq__output_mode {
  FLYQ_OUTPUT_VALUE,
  FLYQ_OUTPUT_FORMAT,
  FLYQ_OUTPUT_JSON
} flyq__output_mode_t;

typedef struct flyq__output {
  flyq__output_mode_t mode;
  const char *format; /* FLYQ_OUTPUT_FORMAT; checked with _check_format */
  const char *topic;
  FILE *f;
} flyq__output_t;

/* Checks a --format string. Returns 0, or -1 with *bad pointing at the
 * unknown '%' or '\\' sequence. */
int flyq__output_check_format(const char *format, const char **bad);

/* Prints one record of partition. Write errors stay in o->f (ferror). */
void flyq__output_record(const flyq__output_t *o, int32_t partition,
                         const flyq_record_t *rec);

#endif /* FLYQ_CLI_OUTPUT_H */
