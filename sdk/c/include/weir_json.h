/* Reading JSON. Finding one field of a value without reformatting it:
 * weir_json_find validates the whole document (strict RFC 8259, nesting up
 * to 128 deep, as weir's own scanner) and returns the raw bytes of the value
 * at a dotted path. Path segments name object members; a segment of digits
 * also indexes arrays (`items.0.sku`). When an object has a member twice,
 * the first one is followed. Reading all of it: weir_json_parse validates
 * the same way and builds a tree of weir_json_value. */
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

/* A parsed JSON document. Object members are sorted by name (bytewise, on
 * the unescaped UTF-8) and a name given twice keeps its last value, as
 * serde_json does; weir_json_find, which scans, follows the first. */
typedef struct weir_json_value weir_json_value;
typedef struct weir_json_member weir_json_member;
struct weir_json_value {
  weir_json_kind kind;
  weir_bytes raw;    /* the value's text, inside the parsed bytes */
  bool boolean;      /* WEIR_JSON_BOOL */
  double number;     /* WEIR_JSON_NUMBER (strtod: out of range gives ±HUGE_VAL) */
  char *string;      /* WEIR_JSON_STRING: unescaped UTF-8, NUL-terminated */
  size_t string_len; /* its length in bytes (it may hold `\u0000`) */
  size_t count;      /* elements of an array, members of an object */
  weir_json_value *items;
  weir_json_member *members;
};
struct weir_json_member {
  char *key; /* unescaped UTF-8, NUL-terminated */
  size_t key_len;
  weir_json_value value;
};

/* Parses text (validated as weir_json_validate does, same errors) into *out;
 * free it with weir_json_value_free. raw points into text, so the document
 * is valid as long as text is. */
bool weir_json_parse(weir_bytes text, weir_json_value *out, weir_error *err);
void weir_json_value_free(weir_json_value *value);
/* The value of an object's member called key, or NULL (also for a value
 * that is not an object). */
const weir_json_value *weir_json_member_get(const weir_json_value *object, const char *key,
                                            size_t key_len);

#endif
