/* A strict JSON scanner (RFC 8259: UTF-8 checked, escapes and surrogate
 * pairs checked, nesting up to 128) that finds the value at a dotted path.
 * Its messages are worded like weir's Rust scanner (sdk/json). */
#include "weir_json.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 128

typedef struct {
  const uint8_t *b;
  size_t len, at;
  weir_error *err;
  bool failed;
} scanner;

static bool fail(scanner *s, size_t at, const char *what) {
  if (!s->failed) weir_error_set(s->err, "invalid json at byte %zu: %s", at, what);
  s->failed = true;
  return false;
}

static void space(scanner *s) {
  while (s->at < s->len) {
    uint8_t c = s->b[s->at];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
    s->at++;
  }
}

static int hex(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static long hex4(scanner *s) {
  if (s->len - s->at < 4) return -1;
  long v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hex(s->b[s->at + i]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  s->at += 4;
  return v;
}

/* Length of the UTF-8 sequence at s->at, or 0 when invalid. */
static size_t utf8_len(const uint8_t *p, size_t n) {
  uint8_t c = p[0];
  size_t len;
  uint32_t min;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) len = 2, min = 0x80;
  else if (c >= 0xe0 && c <= 0xef) len = 3, min = 0x800;
  else if (c >= 0xf0 && c <= 0xf4) len = 4, min = 0x10000;
  else return 0;
  if (n < len) return 0;
  uint32_t cp = c & (0x7f >> len);
  for (size_t i = 1; i < len; i++) {
    if ((p[i] & 0xc0) != 0x80) return 0;
    cp = cp << 6 | (p[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

static bool string(scanner *s) {
  s->at++; /* the quote */
  for (;;) {
    if (s->at >= s->len) return fail(s, s->at, "unexpected end of input, expected `\"`");
    uint8_t c = s->b[s->at];
    if (c == '"') {
      s->at++;
      return true;
    }
    if (c < 0x20) return fail(s, s->at, "unescaped control character in string");
    if (c == '\\') {
      size_t start = s->at++;
      if (s->at >= s->len) return fail(s, s->at, "unexpected end of input, expected an escape");
      c = s->b[s->at++];
      if (c == 'u') {
        long u = hex4(s);
        if (u < 0) return fail(s, start, "expected four hexadecimal digits after `\\u`");
        if (u >= 0xdc00 && u <= 0xdfff) return fail(s, start, "unpaired utf-16 surrogate in `\\u` escape");
        if (u >= 0xd800 && u <= 0xdbff) {
          if (s->len - s->at < 2 || s->b[s->at] != '\\' || s->b[s->at + 1] != 'u')
            return fail(s, start, "unpaired utf-16 surrogate in `\\u` escape");
          s->at += 2;
          long low = hex4(s);
          if (low < 0) return fail(s, s->at - 2, "expected four hexadecimal digits after `\\u`");
          if (low < 0xdc00 || low > 0xdfff) return fail(s, start, "unpaired utf-16 surrogate in `\\u` escape");
        }
      } else if (!strchr("\"\\/bfnrt", c) || c == 0) {
        return fail(s, start, "invalid escape sequence in string");
      }
      continue;
    }
    size_t n = utf8_len(s->b + s->at, s->len - s->at);
    if (n == 0) return fail(s, s->at, "invalid utf-8 in string");
    s->at += n;
  }
}

static bool digits(scanner *s) {
  size_t start = s->at;
  while (s->at < s->len && s->b[s->at] >= '0' && s->b[s->at] <= '9') s->at++;
  if (s->at == start) return fail(s, s->at, s->at < s->len ? "expected a digit" : "unexpected end of input, expected a digit");
  return true;
}

static bool number(scanner *s) {
  if (s->b[s->at] == '-') s->at++;
  if (s->at < s->len && s->b[s->at] == '0') {
    s->at++;
    if (s->at < s->len && s->b[s->at] >= '0' && s->b[s->at] <= '9') return fail(s, s->at - 1, "leading zero in number");
  } else if (!digits(s)) {
    return false;
  }
  if (s->at < s->len && s->b[s->at] == '.') {
    s->at++;
    if (!digits(s)) return false;
  }
  if (s->at < s->len && (s->b[s->at] == 'e' || s->b[s->at] == 'E')) {
    s->at++;
    if (s->at < s->len && (s->b[s->at] == '+' || s->b[s->at] == '-')) s->at++;
    if (!digits(s)) return false;
  }
  return true;
}

static bool literal(scanner *s, const char *word, const char *expected) {
  size_t n = strlen(word);
  if (s->len - s->at < n || memcmp(s->b + s->at, word, n) != 0) return fail(s, s->at, expected);
  s->at += n;
  return true;
}

static bool value(scanner *s, int depth);

static bool container(scanner *s, int depth, bool object) {
  if (depth >= MAX_DEPTH) return fail(s, s->at, "nesting deeper than 128 levels");
  uint8_t close = object ? '}' : ']';
  s->at++;
  space(s);
  if (s->at < s->len && s->b[s->at] == close) {
    s->at++;
    return true;
  }
  for (;;) {
    if (object) {
      if (s->at >= s->len) return fail(s, s->at, "unexpected end of input, expected a string");
      if (s->b[s->at] != '"') return fail(s, s->at, "expected a string");
      if (!string(s)) return false;
      space(s);
      if (s->at >= s->len) return fail(s, s->at, "unexpected end of input, expected `:`");
      if (s->b[s->at] != ':') return fail(s, s->at, "expected `:`");
      s->at++;
    }
    if (!value(s, depth + 1)) return false;
    space(s);
    if (s->at >= s->len) return fail(s, s->at, object ? "unexpected end of input, expected `,` or `}`" : "unexpected end of input, expected `,` or `]`");
    uint8_t c = s->b[s->at++];
    if (c == close) return true;
    if (c != ',') return fail(s, s->at - 1, object ? "expected `,` or `}`" : "expected `,` or `]`");
    space(s);
  }
}

static bool value(scanner *s, int depth) {
  space(s);
  if (s->at >= s->len) return fail(s, s->at, "unexpected end of input, expected a value");
  switch (s->b[s->at]) {
    case '{': return container(s, depth, true);
    case '[': return container(s, depth, false);
    case '"': return string(s);
    case 't': return literal(s, "true", "expected `true`");
    case 'f': return literal(s, "false", "expected `false`");
    case 'n': return literal(s, "null", "expected `null`");
    default:
      if (s->b[s->at] == '-' || (s->b[s->at] >= '0' && s->b[s->at] <= '9')) return number(s);
      return fail(s, s->at, "expected a value");
  }
}

bool weir_json_validate(weir_bytes v, weir_error *err) {
  scanner s = {v.ptr, v.len, 0, err, false};
  if (!value(&s, 0)) return false;
  space(&s);
  if (s.at != s.len) return fail(&s, s.at, "unexpected data after the value");
  return true;
}

/* ---- paths ---- */

bool weir_json_path_parse(const char *text, weir_json_path *path, weir_error *err) {
  memset(path, 0, sizeof *path);
  if (*text == 0) {
    weir_error_set(err, "empty field path");
    return false;
  }
  size_t count = 1;
  for (const char *p = text; *p; p++) count += *p == '.';
  char *copy = strdup(text);
  struct weir_json_segment *segments = calloc(count, sizeof *segments);
  if (copy == NULL || segments == NULL) WEIR_PANIC("out of memory");
  const char *start = copy;
  for (size_t i = 0; i < count; i++) {
    const char *end = strchr(start, '.');
    size_t len = end ? (size_t)(end - start) : strlen(start);
    if (len == 0) {
      weir_error_set(err, "empty segment in field path `%s`", text);
      free(copy);
      free(segments);
      return false;
    }
    long index = 0;
    for (size_t j = 0; j < len && index >= 0; j++) {
      char c = start[j];
      index = (c >= '0' && c <= '9' && index < 100000000) ? index * 10 + (c - '0') : -1;
    }
    segments[i] = (struct weir_json_segment){start, len, index};
    start += len + 1;
  }
  *path = (weir_json_path){copy, count, segments};
  return true;
}

void weir_json_path_free(weir_json_path *path) {
  free((char *)path->text);
  free(path->segments);
  memset(path, 0, sizeof *path);
}

/* ---- finding (in a document already validated) ---- */

static size_t skip_space(const uint8_t *b, size_t len, size_t i) {
  while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r')) i++;
  return i;
}

static size_t skip_string(const uint8_t *b, size_t i) {
  for (i++;; i++) {
    if (b[i] == '\\') i++;
    else if (b[i] == '"') return i + 1;
  }
}

static size_t skip_value(const uint8_t *b, size_t len, size_t i) {
  if (b[i] == '"') return skip_string(b, i);
  if (b[i] != '{' && b[i] != '[') {
    while (i < len && !strchr(",}] \t\n\r", b[i])) i++;
    return i;
  }
  int depth = 0;
  for (;;) {
    uint8_t c = b[i];
    if (c == '"') {
      i = skip_string(b, i);
      continue;
    }
    if (c == '{' || c == '[') depth++;
    else if ((c == '}' || c == ']') && --depth == 0) return i + 1;
    i++;
  }
}

static bool key_is(weir_bytes raw, const struct weir_json_segment *seg) {
  weir_json_scalar key = weir_json_interpret(raw);
  bool same = key.string_len == seg->len && memcmp(key.string, seg->name, seg->len) == 0;
  weir_json_scalar_free(&key);
  return same;
}

int weir_json_find(weir_bytes v, const weir_json_path *path, weir_bytes *raw, weir_error *err) {
  if (!weir_json_validate(v, err)) return -1;
  const uint8_t *b = v.ptr;
  size_t len = v.len, i = skip_space(b, len, 0);
  for (size_t k = 0; k < path->count; k++) {
    const struct weir_json_segment *seg = &path->segments[k];
    bool found = false;
    if (b[i] == '{') {
      i = skip_space(b, len, i + 1);
      while (b[i] == '"') {
        size_t end = skip_string(b, i);
        bool match = key_is((weir_bytes){b + i, end - i}, seg);
        i = skip_space(b, len, skip_space(b, len, end) + 1);
        if (match) {
          found = true;
          break;
        }
        i = skip_space(b, len, skip_value(b, len, i));
        if (b[i] == '}') break;
        i = skip_space(b, len, i + 1);
      }
    } else if (b[i] == '[' && seg->index >= 0) {
      i = skip_space(b, len, i + 1);
      for (long n = 0; b[i] != ']'; n++) {
        if (n == seg->index) {
          found = true;
          break;
        }
        i = skip_space(b, len, skip_value(b, len, i));
        if (b[i] == ']') break;
        i = skip_space(b, len, i + 1);
      }
    }
    if (!found) return 0;
  }
  raw->ptr = b + i;
  raw->len = skip_value(b, len, i) - i;
  return 1;
}

/* ---- interpreting ---- */

static void put_utf8(char *out, size_t *n, uint32_t cp) {
  if (cp < 0x80) {
    out[(*n)++] = (char)cp;
  } else if (cp < 0x800) {
    out[(*n)++] = (char)(0xc0 | cp >> 6);
    out[(*n)++] = (char)(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out[(*n)++] = (char)(0xe0 | cp >> 12);
    out[(*n)++] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[(*n)++] = (char)(0x80 | (cp & 0x3f));
  } else {
    out[(*n)++] = (char)(0xf0 | cp >> 18);
    out[(*n)++] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[(*n)++] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[(*n)++] = (char)(0x80 | (cp & 0x3f));
  }
}

static uint32_t read_hex4(const uint8_t *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v = v * 16 + (uint32_t)hex(p[i]);
  return v;
}

weir_json_scalar weir_json_interpret(weir_bytes raw) {
  weir_json_scalar s = {0};
  switch (raw.ptr[0]) {
    case '{': s.kind = WEIR_JSON_OBJECT; return s;
    case '[': s.kind = WEIR_JSON_ARRAY; return s;
    case 't': s.kind = WEIR_JSON_BOOL; s.boolean = true; return s;
    case 'f': s.kind = WEIR_JSON_BOOL; return s;
    case 'n': s.kind = WEIR_JSON_NULL; return s;
    case '"': break;
    default: {
      char buf[64];
      char *text = raw.len < sizeof buf ? buf : malloc(raw.len + 1);
      if (text == NULL) WEIR_PANIC("out of memory");
      memcpy(text, raw.ptr, raw.len);
      text[raw.len] = 0;
      s.kind = WEIR_JSON_NUMBER;
      s.number = strtod(text, NULL); /* out of range gives ±HUGE_VAL */
      if (text != buf) free(text);
      return s;
    }
  }
  s.kind = WEIR_JSON_STRING;
  s.string = malloc(raw.len + 1);
  if (s.string == NULL) WEIR_PANIC("out of memory");
  size_t n = 0;
  for (size_t i = 1; i + 1 < raw.len; i++) {
    uint8_t c = raw.ptr[i];
    if (c != '\\') {
      s.string[n++] = (char)c;
      continue;
    }
    c = raw.ptr[++i];
    switch (c) {
      case 'b': s.string[n++] = '\b'; break;
      case 'f': s.string[n++] = '\f'; break;
      case 'n': s.string[n++] = '\n'; break;
      case 'r': s.string[n++] = '\r'; break;
      case 't': s.string[n++] = '\t'; break;
      case 'u': {
        uint32_t cp = read_hex4(raw.ptr + i + 1);
        i += 4;
        if (cp >= 0xd800 && cp <= 0xdbff) {
          uint32_t low = read_hex4(raw.ptr + i + 3);
          i += 6;
          cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        }
        put_utf8(s.string, &n, cp);
        break;
      }
      default: s.string[n++] = (char)c; /* " \ / */
    }
  }
  s.string[n] = 0;
  s.string_len = n;
  return s;
}

void weir_json_scalar_free(weir_json_scalar *scalar) {
  free(scalar->string);
  scalar->string = NULL;
}

/* ---- documents ----
 * weir_json_parse validates first, so the builder below walks text it knows
 * to be well formed (as weir_json_find does) and needs no error paths. */

static void *grow(void *items, size_t *cap, size_t size) {
  *cap = *cap ? 2 * *cap : 4;
  items = realloc(items, *cap * size);
  if (items == NULL) WEIR_PANIC("out of memory");
  return items;
}

static int key_order(const weir_json_member *a, const weir_json_member *b) {
  size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
  int c = n ? memcmp(a->key, b->key, n) : 0;
  if (c != 0) return c;
  return (a->key_len > b->key_len) - (a->key_len < b->key_len);
}

/* A stable merge sort, so that members with the same name keep their order. */
static void sort_members(weir_json_member *m, weir_json_member *tmp, size_t n) {
  if (n < 2) return;
  size_t half = n / 2, i = 0, j = half, k = 0;
  sort_members(m, tmp, half);
  sort_members(m + half, tmp, n - half);
  while (i < half && j < n) tmp[k++] = key_order(&m[j], &m[i]) < 0 ? m[j++] : m[i++];
  while (i < half) tmp[k++] = m[i++];
  while (j < n) tmp[k++] = m[j++];
  memcpy(m, tmp, n * sizeof *m);
}

/* Sorts an object's members by name and keeps the last of each name. */
static void index_members(weir_json_value *object) {
  size_t n = object->count;
  if (n < 2) return;
  weir_json_member *tmp = malloc(n * sizeof *tmp);
  if (tmp == NULL) WEIR_PANIC("out of memory");
  sort_members(object->members, tmp, n);
  free(tmp);
  size_t kept = 0;
  for (size_t i = 0; i < n; i++) {
    weir_json_member *m = &object->members[i];
    if (i + 1 < n && key_order(m, m + 1) == 0) {
      free(m->key);
      weir_json_value_free(&m->value);
      continue;
    }
    object->members[kept++] = *m;
  }
  object->count = kept;
}

static weir_json_scalar scalar_at(const uint8_t *b, size_t len, size_t i, size_t *end) {
  *end = skip_value(b, len, i);
  return weir_json_interpret((weir_bytes){b + i, *end - i});
}

/* Builds the value starting at b[i] into *v; returns the index after it. */
static size_t build(const uint8_t *b, size_t len, size_t i, weir_json_value *v) {
  memset(v, 0, sizeof *v);
  size_t start = i, cap = 0;
  if (b[i] == '[') {
    v->kind = WEIR_JSON_ARRAY;
    i = skip_space(b, len, i + 1);
    while (b[i] != ']') {
      if (v->count == cap) v->items = grow(v->items, &cap, sizeof *v->items);
      i = skip_space(b, len, build(b, len, i, &v->items[v->count++]));
      if (b[i] == ',') i = skip_space(b, len, i + 1);
    }
    i++;
  } else if (b[i] == '{') {
    v->kind = WEIR_JSON_OBJECT;
    i = skip_space(b, len, i + 1);
    while (b[i] != '}') {
      if (v->count == cap) v->members = grow(v->members, &cap, sizeof *v->members);
      weir_json_member *m = &v->members[v->count++];
      size_t end;
      weir_json_scalar key = scalar_at(b, len, i, &end);
      m->key = key.string;
      m->key_len = key.string_len;
      i = skip_space(b, len, skip_space(b, len, end) + 1); /* past the `:` */
      i = skip_space(b, len, build(b, len, i, &m->value));
      if (b[i] == ',') i = skip_space(b, len, i + 1);
    }
    i++;
    index_members(v);
  } else {
    weir_json_scalar s = scalar_at(b, len, i, &i);
    v->kind = s.kind;
    v->boolean = s.boolean;
    v->number = s.number;
    v->string = s.string;
    v->string_len = s.string_len;
  }
  v->raw = (weir_bytes){b + start, i - start};
  return i;
}

bool weir_json_parse(weir_bytes text, weir_json_value *out, weir_error *err) {
  memset(out, 0, sizeof *out);
  if (!weir_json_validate(text, err)) return false;
  build(text.ptr, text.len, skip_space(text.ptr, text.len, 0), out);
  return true;
}

void weir_json_value_free(weir_json_value *value) {
  for (size_t i = 0; value->items != NULL && i < value->count; i++) weir_json_value_free(&value->items[i]);
  for (size_t i = 0; value->members != NULL && i < value->count; i++) {
    free(value->members[i].key);
    weir_json_value_free(&value->members[i].value);
  }
  free(value->items);
  free(value->members);
  free(value->string);
  memset(value, 0, sizeof *value);
}

const weir_json_value *weir_json_member_get(const weir_json_value *object, const char *key,
                                            size_t key_len) {
  if (object->kind != WEIR_JSON_OBJECT) return NULL;
  weir_json_member wanted = {(char *)key, key_len, {0}};
  size_t lo = 0, hi = object->count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = key_order(&wanted, &object->members[mid]);
    if (c == 0) return &object->members[mid].value;
    if (c < 0) hi = mid;
    else lo = mid + 1;
  }
  return NULL;
}
