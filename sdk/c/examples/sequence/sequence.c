/* sequence: numbers the events of each key with weir's keyed state; the
 * same behaviour and messages as plugins/sequence (its doc comment is the
 * specification).
 *
 * Each event that is a JSON object gets a member `"seq":N` in front, where
 * N counts the events of its key-by key so far, this one included. Config
 * (optional): `field`, the member's name (default `seq`); `ttl_ms`, how long
 * after a key's last event its count is kept (by event time). An event
 * whose value is not a JSON object is refused. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weir.h"
#include "weir_json.h"

/* The state name the count is stored under: 8 bytes, a little-endian u64. */
#define COUNT "count"

static struct {
  char *member; /* `"<field>":`, escaped once */
  size_t member_len;
  bool has_ttl;
  uint64_t ttl_ms;
} sequence;

static void *xmalloc(size_t size) {
  void *p = malloc(size ? size : 1);
  if (p == NULL) WEIR_PANIC("out of memory allocating %zu bytes", size);
  return p;
}

/* `"<field>":` with field escaped as weir-json's push_string does: quote,
 * backslash and control characters only. */
static void set_member(const char *field) {
  size_t n = strlen(field);
  char *out = xmalloc(6 * n + 4), *at = out;
  *at++ = '"';
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)field[i];
    if (c == '"' || c == '\\') {
      *at++ = '\\';
      *at++ = (char)c;
    } else if (c < 0x20) {
      at += sprintf(at, "\\u%04x", c);
    } else {
      *at++ = (char)c;
    }
  }
  *at++ = '"';
  *at++ = ':';
  sequence.member = out;
  sequence.member_len = (size_t)(at - out);
}

/* What Rust's `str::parse::<u64>` accepts: an optional `+` and ASCII
 * digits, at most 2^64-1. */
static bool parse_u64(const char *text, uint64_t *out) {
  if (*text == '+') text++;
  if (*text == 0) return false;
  uint64_t n = 0;
  for (; *text; text++) {
    if (*text < '0' || *text > '9') return false;
    unsigned digit = (unsigned)(*text - '0');
    if (n > (UINT64_MAX - digit) / 10) return false;
    n = n * 10 + digit;
  }
  *out = n;
  return true;
}

bool weir_transform_init(const weir_config *config, weir_error *err) {
  const char *field = weir_config_get(config, "field", "seq");
  if (*field == 0) {
    weir_error_set(err, "config `field`: must not be empty");
    return false;
  }
  set_member(field);
  const char *ttl = weir_config_get(config, "ttl_ms", NULL);
  if (ttl != NULL) {
    if (!parse_u64(ttl, &sequence.ttl_ms) || sequence.ttl_ms == 0) {
      weir_error_set(err,
                     "config `ttl_ms`: expected a positive whole number of milliseconds, got `%s`",
                     ttl);
      return false;
    }
    sequence.has_ttl = true;
  }
  return true;
}

/* Rust's `u8::is_ascii_whitespace`. */
static bool is_ascii_whitespace(uint8_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static weir_bytes trim_ascii(weir_bytes b) {
  while (b.len > 0 && is_ascii_whitespace(b.ptr[0])) b.ptr++, b.len--;
  while (b.len > 0 && is_ascii_whitespace(b.ptr[b.len - 1])) b.len--;
  return b;
}

void weir_transform(const weir_event *event, weir_emitter *out) {
  uint64_t seen = 0;
  weir_bytes stored;
  if (weir_state_get(event, COUNT, &stored)) {
    if (stored.len != 8) {
      weir_reject(out, "stored count is %zu bytes, not 8", stored.len);
      return;
    }
    for (int i = 7; i >= 0; i--) seen = seen << 8 | stored.ptr[i];
  }
  uint64_t n = seen + 1; /* wraps as the Rust plugin's release build does */

  weir_error err = {NULL};
  if (!weir_json_validate(event->value, &err)) {
    weir_reject(out, "value is not json: %s", err.message);
    free(err.message);
    return;
  }
  weir_bytes text = trim_ascii(event->value);
  if (text.len < 2 || text.ptr[0] != '{' || text.ptr[text.len - 1] != '}') {
    weir_reject(out, "value is not a json object");
    return;
  }
  weir_bytes inner = {text.ptr + 1, text.len - 2};
  bool members = trim_ascii(inner).len > 0;
  char number[24];
  int digits = snprintf(number, sizeof number, "%" PRIu64, n);
  size_t len = 1 + sequence.member_len + (size_t)digits + (members ? 1 + inner.len : 0) + 1;
  uint8_t *value = xmalloc(len), *at = value;
  *at++ = '{';
  memcpy(at, sequence.member, sequence.member_len);
  at += sequence.member_len;
  memcpy(at, number, (size_t)digits);
  at += digits;
  if (members) {
    *at++ = ',';
    memcpy(at, inner.ptr, inner.len);
    at += inner.len;
  }
  *at = '}';

  uint8_t count[8];
  for (int i = 0; i < 8; i++) count[i] = (uint8_t)(n >> (8 * i));
  if (sequence.has_ttl)
    weir_state_set_ttl(event, COUNT, count, sizeof count, sequence.ttl_ms);
  else
    weir_state_set(event, COUNT, count, sizeof count);
  weir_emit_value(out, value, len);
  free(value);
}
