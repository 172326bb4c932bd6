/* The JSON Schema subset of schema.h. A schema is compiled once into a graph
 * of `schema` nodes (one per subschema, `$ref` resolved to its target node);
 * checking a value walks that graph alongside the value's document. Every
 * keyword is either handled here or refused at compile time: nothing is
 * silently ignored. */
#include "schema.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- growable text ---- */

typedef struct {
  char *ptr; /* NUL-terminated once anything was added */
  size_t len, cap;
} text;

/* Makes room for n more bytes and a NUL. */
static void text_reserve(text *t, size_t n) {
  if (t->cap - t->len > n) return;
  size_t cap = t->cap ? t->cap : 64;
  while (cap - t->len <= n) {
    if (cap > SIZE_MAX / 2) WEIR_PANIC("out of memory");
    cap *= 2;
  }
  char *p = realloc(t->ptr, cap);
  if (p == NULL) WEIR_PANIC("out of memory");
  t->ptr = p;
  t->cap = cap;
}

static void text_add(text *t, const void *bytes, size_t n) {
  text_reserve(t, n);
  if (n > 0) memcpy(t->ptr + t->len, bytes, n);
  t->len += n;
  t->ptr[t->len] = 0;
}

static void text_puts(text *t, const char *s) { text_add(t, s, strlen(s)); }

static void text_vprintf(text *t, const char *format, va_list args) {
  va_list again;
  va_copy(again, args);
  int n = vsnprintf(NULL, 0, format, again);
  va_end(again);
  if (n < 0) return;
  text_reserve(t, (size_t)n);
  vsnprintf(t->ptr + t->len, (size_t)n + 1, format, args);
  t->len += (size_t)n;
}

static void text_printf(text *t, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void text_printf(text *t, const char *format, ...) {
  va_list args;
  va_start(args, format);
  text_vprintf(t, format, args);
  va_end(args);
}

static void text_cut(text *t, size_t len) {
  t->len = len;
  if (t->ptr != NULL) t->ptr[len] = 0;
}

/* Bytes of a name: control characters as \u00XX (a reason must not hold a
 * NUL, and should not hold a newline); in a JSON pointer token also `~` as
 * `~0` and `/` as `~1`. */
static void put_name(text *t, const char *s, size_t n, bool pointer) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20) text_printf(t, "\\u%04x", c);
    else if (pointer && c == '~') text_puts(t, "~0");
    else if (pointer && c == '/') text_puts(t, "~1");
    else text_add(t, &s[i], 1);
  }
}

/* A string as a JSON string literal. */
static void put_string(text *t, const char *s, size_t n) {
  text_add(t, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') text_add(t, "\\", 1);
    if (c < 0x20) text_printf(t, "\\u%04x", c);
    else text_add(t, &s[i], 1);
  }
  text_add(t, "\"", 1);
}

/* A value as written, shortened to about 40 bytes (at a UTF-8 boundary). */
#define SHOWN 40
static void put_value(text *t, const weir_json_value *v) {
  if (v->raw.len <= SHOWN) {
    text_add(t, v->raw.ptr, v->raw.len);
    return;
  }
  size_t cut = SHOWN - 3;
  while (cut > 0 && (v->raw.ptr[cut] & 0xc0) == 0x80) cut--;
  text_add(t, v->raw.ptr, cut);
  text_puts(t, "...");
}

/* ---- the compiled form ---- */

enum {
  T_NULL = 1 << 0,
  T_BOOLEAN = 1 << 1,
  T_OBJECT = 1 << 2,
  T_ARRAY = 1 << 3,
  T_NUMBER = 1 << 4,
  T_STRING = 1 << 5,
  T_INTEGER = 1 << 6,
};
static const char *const TYPE_NAMES[] = {"null", "boolean", "object", "array", "number", "string", "integer"};
static const char *const TYPE_ARTICLES[] = {"", "a ", "an ", "an ", "a ", "a ", "an "};
#define TYPE_COUNT (sizeof TYPE_NAMES / sizeof *TYPE_NAMES)

typedef enum { DRAFT_2020_12, DRAFT_7 } draft;

typedef struct schema schema;
struct schema {
  const weir_json_value *source; /* in the schema document */
  bool is_boolean, allows;       /* the schema `true` or `false` */

  const weir_json_value *type; /* as written, for messages */
  unsigned types;              /* T_ bits, 0 without `type` */
  const weir_json_value *enum_values, *const_value;
  const weir_json_value *minimum, *maximum, *exclusive_minimum, *exclusive_maximum;
  const weir_json_value *min_length, *max_length;
  size_t min_chars, max_chars;

  const weir_json_value *required;   /* an array of strings */
  const weir_json_value *properties; /* an object; its schemas in the same order: */
  schema **property_schemas;
  schema *additional_properties;
  schema *items;               /* every element */
  schema **prefix_items;       /* draft-07 array form of `items` */
  size_t prefix_count;

  const weir_json_value *ref; /* `$ref`, a string "#..." */
  char *ref_where;            /* where it is written, for messages */
  schema *ref_target;
  bool ref_only; /* draft-07: the keywords beside `$ref` are ignored */
};

struct schema_set {
  weir_json_value document;
  schema **nodes; /* every node, each owned here */
  size_t count;
  schema *root;
};

/* ---- compiling ---- */

/* At most this many `$ref`s may follow one another directly (a `$ref` to a
 * schema that is a `$ref` ...). */
#define MAX_REF_CHAIN 32

typedef struct {
  draft draft;
  const weir_json_value *root;
  schema **nodes;
  size_t count, cap;
  text where; /* the schema location being compiled, "#/properties/id" */
  text shown; /* scratch for show() */
  weir_error *err;
  bool failed;
} compiler;

/* A value of the schema, shortened, for a message (valid until the next
 * call). */
static const char *show(compiler *c, const weir_json_value *v) {
  text_cut(&c->shown, 0);
  put_value(&c->shown, v);
  return c->shown.ptr;
}

/* Sets the error, "config `schema`: invalid schema: <where>: <message>" (the
 * first one wins), and returns false. */
static bool refuse(compiler *c, const char *format, ...) __attribute__((format(printf, 2, 3)));
static bool refuse(compiler *c, const char *format, ...) {
  if (c->failed) return false;
  c->failed = true;
  text message = {0};
  va_list args;
  va_start(args, format);
  text_vprintf(&message, format, args);
  va_end(args);
  weir_error_set(c->err, "config `schema`: invalid schema: %s: %s", c->where.ptr, message.ptr ? message.ptr : "");
  free(message.ptr);
  return false;
}

static void set_where(compiler *c, const char *where, size_t len) {
  text_cut(&c->where, 0);
  text_add(&c->where, where, len);
}

static schema *new_node(compiler *c, const weir_json_value *source) {
  schema *s = calloc(1, sizeof *s);
  if (s == NULL) WEIR_PANIC("out of memory");
  if (c->count == c->cap) {
    c->cap = c->cap ? 2 * c->cap : 16;
    c->nodes = realloc(c->nodes, c->cap * sizeof *c->nodes);
    if (c->nodes == NULL) WEIR_PANIC("out of memory");
  }
  c->nodes[c->count++] = s;
  s->source = source;
  return s;
}

static schema **new_children(size_t count) {
  schema **children = calloc(count ? count : 1, sizeof *children);
  if (children == NULL) WEIR_PANIC("out of memory");
  return children;
}

static bool is_named(const char *s, size_t n, const char *name) {
  return strlen(name) == n && memcmp(s, name, n) == 0;
}

static bool is_string(const weir_json_value *v, const char *name) {
  return v->kind == WEIR_JSON_STRING && is_named(v->string, v->string_len, name);
}

static bool same_string(const weir_json_value *a, const weir_json_value *b) {
  return a->string_len == b->string_len && memcmp(a->string, b->string, a->string_len) == 0;
}

/* A number with no fractional part (1.0 and 1e3 too, as from draft 6 on);
 * not an infinity (a number out of range). */
static bool is_integral(double x) { return isfinite(x) && floor(x) == x; }

static schema *compile(compiler *c, const weir_json_value *v, bool root);

/* Compiles v, found at the current location + "/" + token [+ "/" + token2]. */
static schema *compile_at(compiler *c, const weir_json_value *v, const char *token, size_t len,
                          const char *token2, size_t len2) {
  size_t mark = c->where.len;
  text_add(&c->where, "/", 1);
  put_name(&c->where, token, len, true);
  if (token2 != NULL) {
    text_add(&c->where, "/", 1);
    put_name(&c->where, token2, len2, true);
  }
  schema *s = compile(c, v, false);
  text_cut(&c->where, mark);
  return s;
}

static schema *compile_keyword(compiler *c, const weir_json_member *m) {
  return compile_at(c, &m->value, m->key, m->key_len, NULL, 0);
}

static unsigned type_bit(const weir_json_value *name) {
  for (size_t i = 0; i < TYPE_COUNT; i++)
    if (is_string(name, TYPE_NAMES[i])) return 1u << i;
  return 0;
}

/* Each keyword's compile function reads member m of schema s's object. */

static bool kw_type(compiler *c, schema *s, const weir_json_member *m) {
  const weir_json_value *v = &m->value;
  s->type = v;
  if (v->kind == WEIR_JSON_STRING) {
    s->types = type_bit(v);
    if (s->types == 0)
      return refuse(c, "`type` is %s, not one of null, boolean, object, array, number, string, integer", show(c, v));
    return true;
  }
  if (v->kind != WEIR_JSON_ARRAY || v->count == 0)
    return refuse(c, "`type` must be a type name or a non-empty array of type names, not %s", show(c, v));
  for (size_t i = 0; i < v->count; i++) {
    unsigned bit = type_bit(&v->items[i]);
    if (bit == 0)
      return refuse(c, "`type` lists %s, not one of null, boolean, object, array, number, string, integer",
                    show(c, &v->items[i]));
    if (s->types & bit) return refuse(c, "`type` lists %s twice", show(c, &v->items[i]));
    s->types |= bit;
  }
  return true;
}

static bool kw_required(compiler *c, schema *s, const weir_json_member *m) {
  const weir_json_value *v = &m->value;
  if (v->kind != WEIR_JSON_ARRAY) return refuse(c, "`required` must be an array of strings, not %s", show(c, v));
  for (size_t i = 0; i < v->count; i++) {
    if (v->items[i].kind != WEIR_JSON_STRING)
      return refuse(c, "`required` must be an array of strings, not %s", show(c, v));
    for (size_t j = 0; j < i; j++)
      if (same_string(&v->items[i], &v->items[j]))
        return refuse(c, "`required` lists %s twice", show(c, &v->items[i]));
  }
  s->required = v;
  return true;
}

/* `properties`, `$defs`, `definitions`: an object of schemas, compiled into
 * *compiled (one per member, in the members' order). */
static bool schema_map(compiler *c, const weir_json_member *m, schema ***compiled) {
  const weir_json_value *v = &m->value;
  if (v->kind != WEIR_JSON_OBJECT) return refuse(c, "`%s` must be an object of schemas, not %s", m->key, show(c, v));
  *compiled = new_children(v->count);
  for (size_t i = 0; i < v->count; i++) {
    const weir_json_member *entry = &v->members[i];
    (*compiled)[i] = compile_at(c, &entry->value, m->key, m->key_len, entry->key, entry->key_len);
    if ((*compiled)[i] == NULL) return false;
  }
  return true;
}

static bool kw_properties(compiler *c, schema *s, const weir_json_member *m) {
  s->properties = &m->value;
  return schema_map(c, m, &s->property_schemas);
}

static bool kw_defs(compiler *c, schema *s, const weir_json_member *m) {
  (void)s;
  schema **defs = NULL;
  bool ok = schema_map(c, m, &defs);
  free(defs); /* the nodes stay in c->nodes, where `$ref` finds them */
  return ok;
}

static bool kw_additional_properties(compiler *c, schema *s, const weir_json_member *m) {
  s->additional_properties = compile_keyword(c, m);
  return s->additional_properties != NULL;
}

static bool kw_items(compiler *c, schema *s, const weir_json_member *m) {
  const weir_json_value *v = &m->value;
  if (v->kind != WEIR_JSON_ARRAY) {
    s->items = compile_keyword(c, m);
    return s->items != NULL;
  }
  if (c->draft != DRAFT_7)
    return refuse(c, "`items` must be a schema in draft 2020-12, not an array (`prefixItems` is not supported)");
  s->prefix_items = new_children(v->count);
  s->prefix_count = v->count;
  for (size_t i = 0; i < v->count; i++) {
    char index[24];
    int n = snprintf(index, sizeof index, "%zu", i);
    s->prefix_items[i] = compile_at(c, &v->items[i], "items", 5, index, (size_t)n);
    if (s->prefix_items[i] == NULL) return false;
  }
  return true;
}

static bool kw_enum(compiler *c, schema *s, const weir_json_member *m) {
  if (m->value.kind != WEIR_JSON_ARRAY) return refuse(c, "`enum` must be an array, not %s", show(c, &m->value));
  s->enum_values = &m->value;
  return true;
}

static bool kw_const(compiler *c, schema *s, const weir_json_member *m) {
  (void)c;
  s->const_value = &m->value;
  return true;
}

/* minimum, maximum, exclusiveMinimum, exclusiveMaximum */
static bool kw_bound(compiler *c, schema *s, const weir_json_member *m) {
  const weir_json_value *v = &m->value;
  bool exclusive = is_named(m->key, m->key_len, "exclusiveMinimum") || is_named(m->key, m->key_len, "exclusiveMaximum");
  if (v->kind == WEIR_JSON_BOOL && exclusive)
    return refuse(c, "`%s` must be a number (the boolean form of draft 4 is not supported)", m->key);
  if (v->kind != WEIR_JSON_NUMBER) return refuse(c, "`%s` must be a number, not %s", m->key, show(c, v));
  if (is_named(m->key, m->key_len, "minimum")) s->minimum = v;
  else if (is_named(m->key, m->key_len, "maximum")) s->maximum = v;
  else if (is_named(m->key, m->key_len, "exclusiveMinimum")) s->exclusive_minimum = v;
  else s->exclusive_maximum = v;
  return true;
}

/* minLength, maxLength */
static bool kw_length(compiler *c, schema *s, const weir_json_member *m) {
  const weir_json_value *v = &m->value;
  if (v->kind != WEIR_JSON_NUMBER || !is_integral(v->number) || v->number < 0)
    return refuse(c, "`%s` must be a non-negative integer, not %s", m->key, show(c, v));
  size_t chars = v->number >= (double)SIZE_MAX ? SIZE_MAX : (size_t)v->number;
  if (is_named(m->key, m->key_len, "minLength")) {
    s->min_length = v;
    s->min_chars = chars;
  } else {
    s->max_length = v;
    s->max_chars = chars;
  }
  return true;
}

static bool kw_ref(compiler *c, schema *s, const weir_json_member *m) {
  const weir_json_value *v = &m->value;
  if (v->kind != WEIR_JSON_STRING) return refuse(c, "`$ref` must be a string, not %s", show(c, v));
  if (v->string_len == 0 || v->string[0] != '#')
    return refuse(c, "`$ref` %s is another document: only references inside this schema (`#...`) are supported",
                  show(c, v));
  s->ref = v;
  s->ref_where = strdup(c->where.ptr);
  if (s->ref_where == NULL) WEIR_PANIC("out of memory");
  return true;
}

/* Annotations assert nothing; only their form is checked. */

static bool kw_text(compiler *c, schema *s, const weir_json_member *m) { /* $schema $id $comment title description */
  (void)s;
  if (m->value.kind != WEIR_JSON_STRING) return refuse(c, "`%s` must be a string, not %s", m->key, show(c, &m->value));
  return true;
}

static bool kw_flag(compiler *c, schema *s, const weir_json_member *m) { /* deprecated readOnly writeOnly */
  (void)s;
  if (m->value.kind != WEIR_JSON_BOOL) return refuse(c, "`%s` must be a boolean, not %s", m->key, show(c, &m->value));
  return true;
}

static bool kw_examples(compiler *c, schema *s, const weir_json_member *m) {
  (void)s;
  if (m->value.kind != WEIR_JSON_ARRAY) return refuse(c, "`examples` must be an array, not %s", show(c, &m->value));
  return true;
}

static bool kw_default(compiler *c, schema *s, const weir_json_member *m) {
  (void)c, (void)s, (void)m;
  return true;
}

typedef bool keyword_fn(compiler *c, schema *s, const weir_json_member *m);

/* The supported keywords; any other is refused. */
static const struct {
  const char *name;
  keyword_fn *compile;
  bool root_only;
} KEYWORDS[] = {
    {"type", kw_type, false},
    {"enum", kw_enum, false},
    {"const", kw_const, false},
    {"minimum", kw_bound, false},
    {"maximum", kw_bound, false},
    {"exclusiveMinimum", kw_bound, false},
    {"exclusiveMaximum", kw_bound, false},
    {"minLength", kw_length, false},
    {"maxLength", kw_length, false},
    {"required", kw_required, false},
    {"properties", kw_properties, false},
    {"additionalProperties", kw_additional_properties, false},
    {"items", kw_items, false},
    {"$ref", kw_ref, false},
    {"$defs", kw_defs, false},
    {"definitions", kw_defs, false},
    {"$schema", kw_text, true}, /* read by choose_draft */
    {"$id", kw_text, true},
    {"$comment", kw_text, false},
    {"title", kw_text, false},
    {"description", kw_text, false},
    {"default", kw_default, false},
    {"examples", kw_examples, false},
    {"deprecated", kw_flag, false},
    {"readOnly", kw_flag, false},
    {"writeOnly", kw_flag, false},
};
#define KEYWORD_COUNT (sizeof KEYWORDS / sizeof *KEYWORDS)

static schema *compile(compiler *c, const weir_json_value *v, bool root) {
  if (v->kind == WEIR_JSON_BOOL) {
    schema *s = new_node(c, v);
    s->is_boolean = true;
    s->allows = v->boolean;
    return s;
  }
  if (v->kind != WEIR_JSON_OBJECT) {
    refuse(c, "a schema must be an object or a boolean, not %s", show(c, v));
    return NULL;
  }
  schema *s = new_node(c, v);
  for (size_t i = 0; i < v->count; i++) {
    const weir_json_member *m = &v->members[i];
    size_t k = 0;
    while (k < KEYWORD_COUNT && !is_named(m->key, m->key_len, KEYWORDS[k].name)) k++;
    if (k == KEYWORD_COUNT) {
      text name = {0};
      put_name(&name, m->key, m->key_len, false);
      refuse(c, "unsupported keyword `%s`", name.ptr ? name.ptr : "");
      free(name.ptr);
      return NULL;
    }
    if (KEYWORDS[k].root_only && !root) {
      refuse(c, "`%s` is only supported at the root of the schema", KEYWORDS[k].name);
      return NULL;
    }
    if (!KEYWORDS[k].compile(c, s, m)) return NULL;
  }
  s->ref_only = s->ref != NULL && c->draft == DRAFT_7;
  return s;
}

/* Reads the draft from the root's `$schema`. */
static bool choose_draft(compiler *c) {
  const weir_json_value *uri = weir_json_member_get(c->root, "$schema", 7);
  if (uri == NULL) return true;
  if (uri->kind != WEIR_JSON_STRING) return refuse(c, "`$schema` must be a string, not %s", show(c, uri));
  if (is_string(uri, "https://json-schema.org/draft/2020-12/schema") ||
      is_string(uri, "https://json-schema.org/draft/2020-12/schema#")) {
    c->draft = DRAFT_2020_12;
  } else if (is_string(uri, "http://json-schema.org/draft-07/schema#") ||
             is_string(uri, "http://json-schema.org/draft-07/schema")) {
    c->draft = DRAFT_7;
  } else {
    return refuse(c, "unsupported `$schema` %s: this validator knows draft 2020-12 (the default) and draft-07",
                  show(c, uri));
  }
  return true;
}

static int hex_digit(char h) {
  if (h >= '0' && h <= '9') return h - '0';
  if (h >= 'a' && h <= 'f') return h - 'a' + 10;
  if (h >= 'A' && h <= 'F') return h - 'A' + 10;
  return -1;
}

/* Percent-decodes a URI fragment into out; false on a bad `%` escape. */
static bool percent_decode(const char *s, size_t n, text *out) {
  for (size_t i = 0; i < n; i++) {
    char byte = s[i];
    if (byte == '%') {
      int hi = i + 2 < n ? hex_digit(s[i + 1]) : -1;
      int lo = i + 2 < n ? hex_digit(s[i + 2]) : -1;
      if (hi < 0 || lo < 0) return false;
      byte = (char)(hi * 16 + lo);
      i += 2;
    }
    text_add(out, &byte, 1);
  }
  return true;
}

/* Reads the JSON pointer token starting after the `/` at pointer[*at] into
 * token (`~0` is `~`, `~1` is `/`), leaving *at on the next `/` or the end;
 * false on another `~`. */
static bool pointer_token(const text *pointer, size_t *at, text *token) {
  text_cut(token, 0);
  size_t i = *at + 1;
  for (; i < pointer->len && pointer->ptr[i] != '/'; i++) {
    char ch = pointer->ptr[i];
    if (ch == '~') {
      char next = i + 1 < pointer->len ? pointer->ptr[i + 1] : 0;
      if (next != '0' && next != '1') return false;
      ch = next == '0' ? '~' : '/';
      i++;
    }
    text_add(token, &ch, 1);
  }
  *at = i;
  return true;
}

/* An array index token: digits, no leading zero. */
static bool array_index(const text *token, size_t count, size_t *index) {
  if (token->len == 0 || token->len > 9 || (token->len > 1 && token->ptr[0] == '0')) return false;
  size_t n = 0;
  for (size_t i = 0; i < token->len; i++) {
    if (token->ptr[i] < '0' || token->ptr[i] > '9') return false;
    n = n * 10 + (size_t)(token->ptr[i] - '0');
  }
  *index = n;
  return n < count;
}

/* The value of the schema document that a `$ref` "#/a/b" names (a URI
 * fragment holding a JSON pointer), or NULL after refusing. */
static const weir_json_value *follow(compiler *c, const weir_json_value *ref) {
  text pointer = {0}, token = {0};
  const weir_json_value *at = NULL;
  if (!percent_decode(ref->string + 1, ref->string_len - 1, &pointer)) {
    refuse(c, "`$ref` %s has a bad percent escape", show(c, ref));
  } else if (pointer.len > 0 && pointer.ptr[0] != '/') {
    refuse(c, "`$ref` %s: anchors are not supported, only JSON pointers (`#/...`)", show(c, ref));
  } else {
    at = c->root;
    for (size_t i = 0; at != NULL && i < pointer.len;) {
      size_t index;
      if (!pointer_token(&pointer, &i, &token)) {
        refuse(c, "`$ref` %s has a `~` that is not `~0` or `~1`", show(c, ref));
        at = NULL;
        break;
      }
      if (at->kind == WEIR_JSON_OBJECT) at = weir_json_member_get(at, token.ptr ? token.ptr : "", token.len);
      else if (at->kind == WEIR_JSON_ARRAY && array_index(&token, at->count, &index)) at = &at->items[index];
      else at = NULL;
      if (at == NULL) refuse(c, "`$ref` %s points at nothing in the schema", show(c, ref));
    }
  }
  free(pointer.ptr);
  free(token.ptr);
  return at;
}

/* Points each `$ref` at its target's node, compiling targets that are not
 * already schemas of the tree (`#/properties/a/enum/0`, say). */
static bool resolve(compiler *c) {
  for (size_t i = 0; i < c->count; i++) { /* c->count grows as targets compile */
    schema *s = c->nodes[i];
    if (s->ref == NULL) continue;
    set_where(c, s->ref_where, strlen(s->ref_where));
    const weir_json_value *target = follow(c, s->ref);
    if (target == NULL) return false;
    for (size_t j = 0; j < c->count && s->ref_target == NULL; j++)
      if (c->nodes[j]->source == target) s->ref_target = c->nodes[j];
    if (s->ref_target == NULL) {
      set_where(c, s->ref->string, s->ref->string_len);
      s->ref_target = compile(c, target, false);
      if (s->ref_target == NULL) return false;
    }
  }
  /* Following `$ref`s goes no deeper into the value, so a loop of them would
   * never end, and a long chain could exhaust the stack. */
  for (size_t i = 0; i < c->count; i++) {
    const schema *s = c->nodes[i];
    size_t steps = 0;
    while (s->ref_target != NULL && steps <= MAX_REF_CHAIN) s = s->ref_target, steps++;
    if (steps > MAX_REF_CHAIN) {
      set_where(c, c->nodes[i]->ref_where, strlen(c->nodes[i]->ref_where));
      return refuse(c, "`$ref` %s leads into a loop of `$ref`s or a chain of more than %d", show(c, c->nodes[i]->ref),
                    MAX_REF_CHAIN);
    }
  }
  return true;
}

void schema_free(schema_set *set) {
  if (set == NULL) return;
  for (size_t i = 0; i < set->count; i++) {
    free(set->nodes[i]->property_schemas);
    free(set->nodes[i]->prefix_items);
    free(set->nodes[i]->ref_where);
    free(set->nodes[i]);
  }
  free(set->nodes);
  weir_json_value_free(&set->document);
  free(set);
}

schema_set *schema_compile(const char *source, weir_error *err) {
  schema_set *set = calloc(1, sizeof *set);
  if (set == NULL) WEIR_PANIC("out of memory");
  weir_error parse_err = {NULL};
  if (!weir_json_parse((weir_bytes){(const uint8_t *)source, strlen(source)}, &set->document, &parse_err)) {
    weir_error_set(err, "config `schema`: not json: %s", parse_err.message);
    free(parse_err.message);
    free(set);
    return NULL;
  }
  compiler c = {.draft = DRAFT_2020_12, .root = &set->document, .err = err};
  text_puts(&c.where, "#");
  bool ok = choose_draft(&c) && (set->root = compile(&c, c.root, true)) != NULL && resolve(&c);
  set->nodes = c.nodes;
  set->count = c.count;
  free(c.where.ptr);
  free(c.shown.ptr);
  if (!ok) {
    schema_free(set);
    return NULL;
  }
  return set;
}

/* ---- checking ---- */

typedef struct {
  text where; /* the instance location, "" for the whole value */
  text reason;
  size_t problems;
} checker;

/* Counts a problem at the current location; returns where to word it, or
 * NULL when enough are listed already. */
static text *problem(checker *k) {
  if (++k->problems > SCHEMA_MAX_REPORTED) return NULL;
  if (k->reason.len > 0) text_puts(&k->reason, "; ");
  if (k->where.len > 0) text_add(&k->reason, k->where.ptr, k->where.len);
  else text_puts(&k->reason, "/");
  text_puts(&k->reason, ": ");
  return &k->reason;
}

static unsigned kind_bits(const weir_json_value *v) {
  switch (v->kind) {
    case WEIR_JSON_NULL: return T_NULL;
    case WEIR_JSON_BOOL: return T_BOOLEAN;
    case WEIR_JSON_OBJECT: return T_OBJECT;
    case WEIR_JSON_ARRAY: return T_ARRAY;
    case WEIR_JSON_STRING: return T_STRING;
    default: return T_NUMBER | (is_integral(v->number) ? T_INTEGER : 0);
  }
}

/* JSON equality, for `enum` and `const`: numbers by value (1 == 1.0). */
static bool json_equal(const weir_json_value *a, const weir_json_value *b) {
  if (a->kind != b->kind || a->count != b->count) return false;
  switch (a->kind) {
    case WEIR_JSON_NULL: return true;
    case WEIR_JSON_BOOL: return a->boolean == b->boolean;
    case WEIR_JSON_NUMBER: return a->number == b->number;
    case WEIR_JSON_STRING: return same_string(a, b);
    case WEIR_JSON_ARRAY:
      for (size_t i = 0; i < a->count; i++)
        if (!json_equal(&a->items[i], &b->items[i])) return false;
      return true;
    default: /* members are sorted by name and unique, so they pair up */
      for (size_t i = 0; i < a->count; i++) {
        const weir_json_member *x = &a->members[i], *y = &b->members[i];
        if (x->key_len != y->key_len || memcmp(x->key, y->key, x->key_len) != 0) return false;
        if (!json_equal(&x->value, &y->value)) return false;
      }
      return true;
  }
}

static size_t code_points(const char *s, size_t n) {
  size_t count = 0;
  for (size_t i = 0; i < n; i++) count += ((unsigned char)s[i] & 0xc0) != 0x80;
  return count;
}

static void check(checker *k, const schema *s, const weir_json_value *v);

static void check_type(checker *k, const schema *s, const weir_json_value *v) {
  if (s->types == 0 || (s->types & kind_bits(v))) return;
  text *t = problem(k);
  if (t == NULL) return;
  text_puts(t, "expected ");
  size_t count = s->type->kind == WEIR_JSON_ARRAY ? s->type->count : 1;
  for (size_t i = 0; i < count; i++) {
    const weir_json_value *name = s->type->kind == WEIR_JSON_ARRAY ? &s->type->items[i] : s->type;
    unsigned bit = type_bit(name), n = 0;
    while ((1u << n) != bit) n++;
    if (i > 0) text_puts(t, i + 1 == count ? " or " : ", ");
    text_puts(t, TYPE_ARTICLES[n]);
    text_puts(t, TYPE_NAMES[n]);
  }
  text_puts(t, ", found ");
  put_value(t, v);
}

static void check_enum(checker *k, const schema *s, const weir_json_value *v) {
  const weir_json_value *values = s->enum_values;
  for (size_t i = 0; i < values->count; i++)
    if (json_equal(v, &values->items[i])) return;
  text *t = problem(k);
  if (t == NULL) return;
  put_value(t, v);
  text_puts(t, " is not one of the values ");
  for (size_t i = 0; i < values->count && i < 5; i++) {
    if (i > 0) text_puts(t, ", ");
    put_value(t, &values->items[i]);
  }
  if (values->count > 5) text_puts(t, ", ...");
  if (values->count == 0) text_puts(t, "(`enum` is empty)");
}

static void check_number(checker *k, const schema *s, const weir_json_value *v) {
  struct {
    const weir_json_value *bound;
    bool fails;
    const char *words;
  } bounds[] = {
      {s->minimum, s->minimum && v->number < s->minimum->number, " is less than the minimum "},
      {s->maximum, s->maximum && v->number > s->maximum->number, " is more than the maximum "},
      {s->exclusive_minimum, s->exclusive_minimum && v->number <= s->exclusive_minimum->number,
       " is not more than the exclusive minimum "},
      {s->exclusive_maximum, s->exclusive_maximum && v->number >= s->exclusive_maximum->number,
       " is not less than the exclusive maximum "},
  };
  for (size_t i = 0; i < sizeof bounds / sizeof *bounds; i++) {
    if (!bounds[i].fails) continue;
    text *t = problem(k);
    if (t == NULL) return;
    put_value(t, v);
    text_puts(t, bounds[i].words);
    put_value(t, bounds[i].bound);
  }
}

static void check_string(checker *k, const schema *s, const weir_json_value *v) {
  if (s->min_length == NULL && s->max_length == NULL) return;
  size_t chars = code_points(v->string, v->string_len);
  text *t;
  if (s->min_length != NULL && chars < s->min_chars && (t = problem(k)) != NULL) {
    put_value(t, v);
    text_printf(t, " has %zu character%s, fewer than the minimum ", chars, chars == 1 ? "" : "s");
    put_value(t, s->min_length);
  }
  if (s->max_length != NULL && chars > s->max_chars && (t = problem(k)) != NULL) {
    put_value(t, v);
    text_printf(t, " has %zu character%s, more than the maximum ", chars, chars == 1 ? "" : "s");
    put_value(t, s->max_length);
  }
}

/* Checks v against s at the current location + "/" + token. */
static void check_at(checker *k, const schema *s, const weir_json_value *v, const char *token, size_t len) {
  size_t mark = k->where.len;
  text_add(&k->where, "/", 1);
  put_name(&k->where, token, len, true);
  check(k, s, v);
  text_cut(&k->where, mark);
}

/* The schema `properties` gives member m, or NULL. */
static const schema *property_schema(const schema *s, const weir_json_member *m) {
  if (s->properties == NULL) return NULL;
  const weir_json_value *known = weir_json_member_get(s->properties, m->key, m->key_len);
  if (known == NULL) return NULL;
  /* known is the value of one of the members; its index is its schema's. */
  const weir_json_member *member = (const weir_json_member *)((const char *)known - offsetof(weir_json_member, value));
  return s->property_schemas[member - s->properties->members];
}

static void check_object(checker *k, const schema *s, const weir_json_value *v) {
  for (size_t i = 0; s->required != NULL && i < s->required->count; i++) {
    const weir_json_value *name = &s->required->items[i];
    text *t;
    if (weir_json_member_get(v, name->string, name->string_len) == NULL && (t = problem(k)) != NULL) {
      text_puts(t, "the required property ");
      put_string(t, name->string, name->string_len);
      text_puts(t, " is missing");
    }
  }
  if (s->properties == NULL && s->additional_properties == NULL) return;
  /* `additionalProperties: false` makes one problem of the object, naming
   * the members it does not allow (as the Rust plugin reports it), rather
   * than one per member. */
  const schema *other = s->additional_properties;
  bool others_refused = other != NULL && other->is_boolean && !other->allows;
  size_t refused = 0;
  for (size_t i = 0; i < v->count; i++) {
    const weir_json_member *m = &v->members[i];
    const schema *sub = property_schema(s, m);
    if (sub == NULL && others_refused) refused++;
    else if (sub != NULL || (sub = other) != NULL) check_at(k, sub, &m->value, m->key, m->key_len);
  }
  text *t;
  if (refused == 0 || (t = problem(k)) == NULL) return;
  text_puts(t, refused == 1 ? "the property " : "the properties ");
  for (size_t i = 0, listed = 0; i < v->count; i++) {
    const weir_json_member *m = &v->members[i];
    if (property_schema(s, m) != NULL) continue;
    if (listed++ > 0) text_puts(t, listed == refused ? " and " : ", ");
    put_string(t, m->key, m->key_len);
  }
  text_puts(t, refused == 1 ? " is not allowed" : " are not allowed");
  text_puts(t, " (`additionalProperties` is false)");
}

static void check_array(checker *k, const schema *s, const weir_json_value *v) {
  size_t n = s->prefix_items ? (v->count < s->prefix_count ? v->count : s->prefix_count) : s->items ? v->count : 0;
  for (size_t i = 0; i < n; i++) {
    char index[24];
    int len = snprintf(index, sizeof index, "%zu", i);
    check_at(k, s->prefix_items ? s->prefix_items[i] : s->items, &v->items[i], index, (size_t)len);
  }
}

static void check(checker *k, const schema *s, const weir_json_value *v) {
  if (s->is_boolean) {
    text *t;
    if (!s->allows && (t = problem(k)) != NULL) {
      text_puts(t, "the schema `false` allows no value, not ");
      put_value(t, v);
    }
    return;
  }
  if (s->ref_target != NULL) check(k, s->ref_target, v);
  if (s->ref_only) return;
  check_type(k, s, v);
  if (s->enum_values != NULL) check_enum(k, s, v);
  text *t;
  if (s->const_value != NULL && !json_equal(v, s->const_value) && (t = problem(k)) != NULL) {
    put_value(t, v);
    text_puts(t, " is not the constant ");
    put_value(t, s->const_value);
  }
  switch (v->kind) {
    case WEIR_JSON_NUMBER: check_number(k, s, v); break;
    case WEIR_JSON_STRING: check_string(k, s, v); break;
    case WEIR_JSON_OBJECT: check_object(k, s, v); break;
    case WEIR_JSON_ARRAY: check_array(k, s, v); break;
    default: break;
  }
}

char *schema_check(const schema_set *set, weir_bytes value) {
  weir_json_value document;
  weir_error err = {NULL};
  checker k = {0};
  if (!weir_json_parse(value, &document, &err)) {
    text_printf(&k.reason, "value is not json: %s", err.message);
    free(err.message);
    return k.reason.ptr;
  }
  check(&k, set->root, &document);
  weir_json_value_free(&document);
  free(k.where.ptr);
  if (k.problems == 0) {
    free(k.reason.ptr);
    return NULL;
  }
  if (k.problems > SCHEMA_MAX_REPORTED) text_printf(&k.reason, "; and %zu more", k.problems - SCHEMA_MAX_REPORTED);
  return k.reason.ptr;
}
