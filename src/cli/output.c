/* Message output of `flyq consume` (see output.h). */
#include <inttypes.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/output.h"
#include "util/utf8.h"

/* The character a '\\' escape stands for, or 0 if it is not one. */
static char unescape(char c) {
  switch (c) {
  case 'n': return '\n';
  case 't': return '\t';
  case 'r': return '\r';
  case '\\': return '\\';
  default: return 0;
  }
}

int flyq__output_check_format(const char *format, const char **bad) {
  for (const char *p = format; *p; p++) {
    if (*p == '\\' && unescape(p[1]) != 0) p++;
    else if (*p == '%' && p[1] != '\0' && strchr("tpokvTh%", p[1])) p++;
    else if (*p == '\\' || *p == '%') {
      *bad = p;
      return -1;
    }
  }
  return 0;
}

/* Writes bytes that may be NULL (null: nothing). */
static void put_bytes(FILE *f, const uint8_t *p, int32_t len) {
  if (p != NULL && len > 0) fwrite(p, 1, (size_t)len, f);
}

/* %h: the headers as k=v,k2=v2 (a null value prints as nothing). */
static void put_headers(FILE *f, const flyq_record_t *rec) {
  const uint8_t *p = NULL;
  flyq_record_header_t h;
  int first = 1;
  while (flyq_record_next_header(rec, &p, &h) == 1) {
    if (!first) fputc(',', f);
    first = 0;
    put_bytes(f, h.key, h.key_len);
    fputc('=', f);
    put_bytes(f, h.value, h.value_len);
  }
}

/* One '%' conversion. */
static void put_field(const flyq__output_t *o, char c, int32_t partition,
                      const flyq_record_t *rec) {
  switch (c) {
  case 't': fputs(o->topic, o->f); break;
  case 'p': fprintf(o->f, "%" PRId32, partition); break;
  case 'o': fprintf(o->f, "%" PRId64, rec->offset); break;
  case 'k': put_bytes(o->f, rec->key, rec->key_len); break;
  case 'v': put_bytes(o->f, rec->value, rec->value_len); break;
  case 'T': fprintf(o->f, "%" PRId64, rec->timestamp); break;
  case 'h': put_headers(o->f, rec); break;
  default: fputc(c, o->f); break; /* %% */
  }
}

static void print_format(const flyq__output_t *o, int32_t partition,
                         const flyq_record_t *rec) {
  for (const char *p = o->format; *p; p++) {
    if (*p == '\\') fputc(unescape(*++p), o->f);
    else if (*p == '%') put_field(o, *++p, partition, rec);
    else fputc(*p, o->f);
  }
}

/* A JSON string, or null for null bytes. */
static void json_bytes(FILE *f, const uint8_t *p, int32_t len) {
  if (len < 0) fputs("null", f);
  else flyq__cli_json_string(f, p, (size_t)len);
}

/* 1 if bytes p[0..len) (len < 0: null) print as a JSON string or null
 * without loss; else they print as base64. */
static int is_text(const uint8_t *p, int32_t len) {
  return len <= 0 || flyq__utf8_valid(p, (size_t)len);
}

/* ,"name":TEXT for text (is_text), ,"name_b64":"BASE64" for other bytes. */
static void json_field(FILE *f, const char *name, const uint8_t *p,
                       int32_t len) {
  int text = is_text(p, len);
  fprintf(f, ",\"%s%s\":", name, text ? "" : "_b64");
  if (text) json_bytes(f, p, len);
  else flyq__cli_json_base64(f, p, (size_t)len);
}

/* The headers whose values are text (binary: 0) or not (binary: 1), as
 * a JSON object; returns how many headers were not written. */
static int json_headers(FILE *f, const flyq_record_t *rec, int binary) {
  const uint8_t *p = NULL;
  flyq_record_header_t h;
  int first = 1, skipped = 0;
  fputc('{', f);
  while (flyq_record_next_header(rec, &p, &h) == 1) {
    int32_t len = h.value == NULL ? -1 : h.value_len;
    if (is_text(h.value, len) == binary) {
      skipped++;
      continue;
    }
    if (!first) fputc(',', f);
    first = 0;
    json_bytes(f, h.key, h.key_len < 0 ? 0 : h.key_len);
    fputc(':', f);
    if (binary) flyq__cli_json_base64(f, h.value, (size_t)len);
    else json_bytes(f, h.value, len);
  }
  fputc('}', f);
  return skipped;
}

/* One JSON object per record. Keys, values and header values that are not
 * UTF-8 go base64 in key_b64, value_b64 and headers_b64 (only present
 * then), so that `flyq plugin test --input` reads back the same bytes. */
static void print_json(const flyq__output_t *o, int32_t partition,
                       const flyq_record_t *rec) {
  fputs("{\"topic\":", o->f);
  flyq__cli_json_string(o->f, (const uint8_t *)o->topic, strlen(o->topic));
  fprintf(o->f,
          ",\"partition\":%" PRId32 ",\"offset\":%" PRId64
          ",\"timestamp\":%" PRId64,
          partition, rec->offset, rec->timestamp);
  json_field(o->f, "key", rec->key, rec->key_len);
  json_field(o->f, "value", rec->value, rec->value_len);
  fputs(",\"headers\":", o->f);
  if (json_headers(o->f, rec, 0) > 0) {
    fputs(",\"headers_b64\":", o->f);
    json_headers(o->f, rec, 1);
  }
  fputs("}\n", o->f);
}

void flyq__output_record(const flyq__output_t *o, int32_t partition,
                         const flyq_record_t *rec) {
  switch (o->mode) {
  case FLYQ_OUTPUT_FORMAT: print_format(o, partition, rec); break;
  case FLYQ_OUTPUT_JSON: print_json(o, partition, rec); break;
  default:
    put_bytes(o->f, rec->value, rec->value_len);
    fputc('\n', o->f);
    break;
  }
}
