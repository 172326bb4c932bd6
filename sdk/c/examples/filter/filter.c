/* filter: keeps the events whose JSON field compares true against a
 * configured value and drops the rest; the same behaviour and messages as
 * plugins/filter (its README is the specification). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "weir.h"
#include "weir_json.h"

typedef enum { EQ, NE, LT, GT, LE, GE, CONTAINS } op_t;
static const char *const OPS[] = {"==", "!=", "<", ">", "<=", ">=", "contains"};

static struct {
  weir_json_path field;
  op_t op;
  const char *value;
  size_t value_len;
  bool numeric; /* value is a JSON number */
  double number;
  const char *missing;
} filter;

bool weir_transform_init(const weir_config *config, weir_error *err) {
  const char *field = weir_config_require(config, "field", err);
  if (field == NULL) return false;
  weir_error path_err = {NULL};
  if (!weir_json_path_parse(field, &filter.field, &path_err)) {
    weir_error_set(err, "config `field`: %s", path_err.message);
    return false;
  }
  const char *op = weir_config_require(config, "op", err);
  if (op == NULL) return false;
  size_t i = 0;
  while (i < sizeof OPS / sizeof *OPS && strcmp(OPS[i], op) != 0) i++;
  if (i == sizeof OPS / sizeof *OPS) {
    weir_error_set(err, "config `op`: unknown operator `%s`, expected one of ==, !=, <, >, <=, >=, contains", op);
    return false;
  }
  filter.op = (op_t)i;
  filter.value = weir_config_require(config, "value", err);
  if (filter.value == NULL) return false;
  filter.value_len = strlen(filter.value);
  filter.missing = weir_config_get(config, "missing", "drop");
  if (strcmp(filter.missing, "drop") && strcmp(filter.missing, "keep") && strcmp(filter.missing, "reject")) {
    weir_error_set(err, "config `missing`: unknown value `%s`, expected one of drop, keep, reject", filter.missing);
    return false;
  }
  weir_bytes value = {(const uint8_t *)filter.value, filter.value_len};
  weir_error ignored = {NULL};
  if (weir_json_validate(value, &ignored)) {
    while (value.len && isspace(value.ptr[0])) value.ptr++, value.len--;
    while (value.len && isspace(value.ptr[value.len - 1])) value.len--;
    weir_json_scalar s = weir_json_interpret(value);
    filter.numeric = s.kind == WEIR_JSON_NUMBER;
    filter.number = s.number;
    weir_json_scalar_free(&s);
  }
  return true;
}

static bool holds(int ordering) {
  switch (filter.op) {
    case EQ: return ordering == 0;
    case NE: return ordering != 0;
    case LT: return ordering < 0;
    case GT: return ordering > 0;
    case LE: return ordering <= 0;
    default: return ordering >= 0;
  }
}

static bool contains(const uint8_t *hay, size_t n, const char *needle, size_t m) {
  if (m == 0) return true;
  for (size_t i = 0; i + m <= n; i++)
    if (memcmp(hay + i, needle, m) == 0) return true;
  return false;
}

static bool compare_text(const uint8_t *text, size_t n) {
  if (filter.op == CONTAINS) return contains(text, n, filter.value, filter.value_len);
  size_t m = n < filter.value_len ? n : filter.value_len;
  int c = memcmp(text, filter.value, m);
  if (c == 0) c = n < filter.value_len ? -1 : n > filter.value_len ? 1 : 0;
  return holds(c);
}

static bool matches(weir_bytes raw) {
  weir_json_scalar s = weir_json_interpret(raw);
  bool result;
  if (s.kind == WEIR_JSON_NUMBER && filter.numeric) {
    if (filter.op == CONTAINS) result = contains(raw.ptr, raw.len, filter.value, filter.value_len);
    else if (s.number != s.number || filter.number != filter.number) result = filter.op == NE; /* NaN */
    else result = holds(s.number < filter.number ? -1 : s.number > filter.number ? 1 : 0);
  } else if (s.kind == WEIR_JSON_STRING) {
    /* Strings compare their unescaped text; anything else its JSON text. */
    result = compare_text((const uint8_t *)s.string, s.string_len);
  } else {
    result = compare_text(raw.ptr, raw.len);
  }
  weir_json_scalar_free(&s);
  return result;
}

void weir_transform(const weir_event *event, weir_emitter *out) {
  weir_bytes raw;
  weir_error err = {NULL};
  switch (weir_json_find(event->value, &filter.field, &raw, &err)) {
    case -1:
      weir_reject(out, "value is not json: %s", err.message);
      break;
    case 0:
      if (strcmp(filter.missing, "reject") == 0) weir_reject(out, "field `%s` is missing", filter.field.text);
      else if (strcmp(filter.missing, "keep") == 0) weir_keep(out);
      break;
    default:
      if (matches(raw)) weir_keep(out);
  }
  free(err.message);
}
