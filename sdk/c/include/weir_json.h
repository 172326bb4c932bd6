/* Finding one field of a JSON value without reformatting it: weir_json_find
 * validates the whole document (strict RFC 8259, nesting up to 128 deep, as
 * weir's own scanner) and returns the raw bytes of the value at a dotted
 * path. Path segments name object members; a segment of digits also indexes
 * arrays (`items.0.sku`). When an object has a member twice, the first one
 * is followed. */
#ifndef WEIR_JSON_H
#define WEIR_JSON_H

#include "weir.h"

typedef struct {
  const char *text; /* as written, NUL-terminated (owned) */
  size_t count;
  struct weir_json_segment {
    const char *name;
    size_t len;
    long index; /* -1 unless all digits */
  } *segments;
} weir_json_path;

/* Parses a dotted path; false with err set on an empty path or segment. */
bool weir_json_path_parse(const char *text, weir_json_path *path, weir_error *err);
void weir_json_path_free(weir_json_path *path);

/* True when value is JSON; otherwise false with err saying where and why
 * ("invalid json at byte 17: leading zero in number"). */
bool weir_json_validate(weir_bytes value, weir_error *err);

/* 1 and *raw = the value's bytes when found, 0 when missing, -1 with err set
 * when value is not JSON. */
int weir_json_find(weir_bytes value, const weir_json_path *path, weir_bytes *raw, weir_error *err);

typedef enum {
  WEIR_JSON_NULL, WEIR_JSON_BOOL, WEIR_JSON_NUMBER, WEIR_JSON_STRING, WEIR_JSON_ARRAY, WEIR_JSON_OBJECT
} weir_json_kind;

typedef struct {
  weir_json_kind kind;
  bool boolean;
  double number;
  char *string; /* unescaped UTF-8, malloc'd, for WEIR_JSON_STRING */
  size_t string_len;
} weir_json_scalar;

/* Interprets the raw bytes of one valid JSON value (as weir_json_find
 * returns); free with weir_json_scalar_free. */
weir_json_scalar weir_json_interpret(weir_bytes raw);
void weir_json_scalar_free(weir_json_scalar *scalar);

#endif
