/* ledger_cli._native: the cold fold's hot loop in C (optional; the package runs without it).
 *
 * fold() reads whole log lines from a block of bytes and, line by line, proves each one is a
 * deposit, withdrawal, transfer, open, close or reversal, v1 or v2 (with its `date`), in exactly
 * the canonical form of contract section 2 (sorted keys, no whitespace, no escapes but a memo's
 * or key's \" and \\), with the expected seq, prev and a non-decreasing ts, valid values and a
 * hash that matches its bytes, and that it breaks no rule of the books in either order (by
 * record, and by date: contract section 7); then it applies it to the state's dicts. At the
 * first line it cannot vouch for (another event type, a period event, any other escape, a date
 * it does not decide, anything unusual or wrong) it stops and says so: the Python reader then
 * takes that one line, and names the problem if there is one. So this module never accepts a
 * line that the Python path would refuse; it only gets the common case done without building
 * Python objects per event. The rules themselves stay in ledger_cli.domain; the mirror of them
 * here (deposits open a new account, a debit needs an open account with the funds on every day
 * from its date on, a transfer needs two different accounts, none closed, nothing is dated
 * before an account's reopening or in the closed period; only an account that is not open
 * opens, only an open one at zero with nothing dated later closes) follows moves.apply_move and
 * domain.check, and is held to them by tests/test_native.py.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <limits.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_X86 1
#endif

/* ---- SHA-256 ------------------------------------------------------------------------------ */

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_blocks_c(uint32_t st[8], const uint8_t *p, size_t blocks) {
    uint32_t w[64];
    while (blocks--) {
        for (int i = 0; i < 16; i++)
            w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
        for (int i = 16; i < 64; i++) {
            uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
            uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16] + s0 + w[i - 7] + s1;
        }
        uint32_t a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], f = st[5], g = st[6], h = st[7];
        for (int i = 0; i < 64; i++) {
            uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
            uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
            h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
        }
        st[0] += a; st[1] += b; st[2] += c; st[3] += d; st[4] += e; st[5] += f; st[6] += g; st[7] += h;
        p += 64;
    }
}

#ifdef HAVE_X86
/* The SHA extensions (Intel SHA-NI, on AMD since Zen): about 2 cycles a byte. */
__attribute__((target("sha,sse4.1,ssse3"))) static void sha256_blocks_ni(uint32_t st[8], const uint8_t *p,
                                                                        size_t blocks) {
    const __m128i MASK = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i tmp = _mm_loadu_si128((const __m128i *)&st[0]);
    __m128i state1 = _mm_loadu_si128((const __m128i *)&st[4]);
    tmp = _mm_shuffle_epi32(tmp, 0xB1);          /* CDAB */
    state1 = _mm_shuffle_epi32(state1, 0x1B);    /* EFGH */
    __m128i state0 = _mm_alignr_epi8(tmp, state1, 8); /* ABEF */
    state1 = _mm_blend_epi16(state1, tmp, 0xF0); /* CDGH */
    while (blocks--) {
        __m128i abef = state0, cdgh = state1, w[4], msg;
        for (int i = 0; i < 16; i++) {
            if (i < 4) {
                w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), MASK);
            } else {
                __m128i x = _mm_sha256msg1_epu32(w[i & 3], w[(i + 1) & 3]);
                x = _mm_add_epi32(x, _mm_alignr_epi8(w[(i + 3) & 3], w[(i + 2) & 3], 4));
                w[i & 3] = _mm_sha256msg2_epu32(x, w[(i + 3) & 3]);
            }
            msg = _mm_add_epi32(w[i & 3], _mm_loadu_si128((const __m128i *)&K256[4 * i]));
            state1 = _mm_sha256rnds2_epu32(state1, state0, msg);
            msg = _mm_shuffle_epi32(msg, 0x0E);
            state0 = _mm_sha256rnds2_epu32(state0, state1, msg);
        }
        state0 = _mm_add_epi32(state0, abef);
        state1 = _mm_add_epi32(state1, cdgh);
        p += 64;
    }
    tmp = _mm_shuffle_epi32(state0, 0x1B);       /* FEBA */
    state1 = _mm_shuffle_epi32(state1, 0xB1);    /* DCHG */
    state0 = _mm_blend_epi16(tmp, state1, 0xF0); /* DCBA */
    state1 = _mm_alignr_epi8(state1, tmp, 8);    /* HGFE */
    _mm_storeu_si128((__m128i *)&st[0], state0);
    _mm_storeu_si128((__m128i *)&st[4], state1);
}

static int cpu_has_sha(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_SSE4_1) || !(c & bit_SSSE3))
        return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    return (b >> 29) & 1;
}
#endif

static void (*sha256_blocks)(uint32_t st[8], const uint8_t *p, size_t blocks) = sha256_blocks_c;

/* SHA-256 of data[0:n] followed by one more byte `last`, as 64 lowercase hex digits. */
static void sha256_hex_plus(const uint8_t *data, size_t n, uint8_t last, char out[64]) {
    uint32_t st[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                      0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    size_t full = n / 64;
    if (full)
        sha256_blocks(st, data, full);
    uint8_t tail[128];
    size_t rest = n - full * 64;
    memcpy(tail, data + full * 64, rest);
    tail[rest++] = last;
    tail[rest++] = 0x80;
    size_t tail_len = rest + 8 <= 64 ? 64 : 128;
    memset(tail + rest, 0, tail_len - rest);
    uint64_t bits = (uint64_t)(n + 1) * 8;
    for (int i = 0; i < 8; i++)
        tail[tail_len - 1 - i] = (uint8_t)(bits >> (8 * i));
    sha256_blocks(st, tail, tail_len / 64);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++)
            out[8 * i + j] = hex[(st[i] >> (28 - 4 * j)) & 15];
}

/* ---- caches of texts already validated ------------------------------------------------- */

/* Direct-mapped: a slot is one cache line, a new text replaces the old one in its slot. So the
 * memory is fixed (a log with a million distinct amounts costs no more than one with ten), and
 * a lookup touches one line. Values handed out are new references: a later put may evict. */
#define INLINE_KEY 44

typedef struct {
    uint64_t hash;
    PyObject *value;
    uint32_t len;
    char key[INLINE_KEY];
} Slot;

typedef struct {
    Slot *slots;
    size_t mask;
} Cache;

static Cache accounts = {NULL, 4096 - 1}, amounts = {NULL, 1024 - 1}; /* text -> str, text -> Decimal */

static uint64_t fnv1a(const char *p, Py_ssize_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (Py_ssize_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 1099511628211ULL;
    return h;
}

static void cache_clear(Cache *c) {
    for (size_t i = 0; c->slots && i <= c->mask; i++)
        Py_XDECREF(c->slots[i].value);
    PyMem_Free(c->slots);
    c->slots = NULL;
}

/* The value stored for p[0:n] (a new reference), or NULL. */
static PyObject *cache_get(Cache *c, const char *p, Py_ssize_t n, uint64_t h) {
    if (!c->slots || n > INLINE_KEY)
        return NULL;
    Slot *s = &c->slots[h & c->mask];
    if (s->value && s->hash == h && s->len == (uint32_t)n && memcmp(s->key, p, (size_t)n) == 0) {
        Py_INCREF(s->value);
        return s->value;
    }
    return NULL;
}

/* Remember value (borrowed) for p[0:n]; texts too long to keep inline are not kept. */
static void cache_put(Cache *c, const char *p, Py_ssize_t n, uint64_t h, PyObject *value) {
    if (n > INLINE_KEY)
        return;
    if (!c->slots && !(c->slots = PyMem_Calloc(c->mask + 1, sizeof(Slot))))
        return; /* no memory for a cache: every text is validated again, nothing else changes */
    Slot *s = &c->slots[h & c->mask];
    Py_XDECREF(s->value);
    Py_INCREF(value);
    s->value = value;
    s->hash = h;
    s->len = (uint32_t)n;
    memcpy(s->key, p, (size_t)n);
}

/* ---- value rules (mirrors of ledger_cli.values and ledger_cli.money) ---------------------- */

static PyObject *decimal_type, *zero, *fixed_format, *account_problem, *memo_problem, *key_problem;

static int is_ascii(const char *p, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++)
        if ((uint8_t)p[i] >= 0x80)
            return 0;
    return 1;
}

/* The UTF-8 text p[0:n] as a str (a new reference); NULL, with no error set, if it is not UTF-8. */
static PyObject *decoded(const char *p, Py_ssize_t n) {
    PyObject *text = PyUnicode_DecodeUTF8(p, n, "strict");
    if (!text && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
        PyErr_Clear();
    return text;
}

/* 1 if the Python rule `fn(text)` returns None (no problem), 0 if it names one, -1 on error. */
static int passes(PyObject *fn, PyObject *text) {
    PyObject *problem = PyObject_CallOneArg(fn, text);
    if (!problem)
        return -1;
    int ok = problem == Py_None;
    Py_DECREF(problem);
    return ok;
}

/* The account name as a str (a new reference), NULL with no error set if it is not valid. */
static PyObject *account_of(const char *p, Py_ssize_t n) {
    uint64_t h = fnv1a(p, n);
    PyObject *known = cache_get(&accounts, p, n, h);
    if (known)
        return known;
    if (is_ascii(p, n)) { /* ASCII: letters, digits, _ - . in non-empty segments joined by ':' */
        if (n < 1 || n > 128)
            return NULL;
        int start = 1;
        for (Py_ssize_t i = 0; i < n; i++) {
            char c = p[i];
            if (c == ':') {
                if (start)
                    return NULL;
                start = 1;
                continue;
            }
            if (start && c == '-')
                return NULL;
            start = 0;
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '-' || c == '.'))
                return NULL;
        }
        if (start)
            return NULL;
    }
    PyObject *text = decoded(p, n);
    if (!text)
        return NULL;
    if (!is_ascii(p, n) && passes(account_problem, text) <= 0) { /* the rest: Python's rule */
        Py_DECREF(text);
        return NULL;
    }
    cache_put(&accounts, p, n, h, text);
    return text;
}

/* Whether p[0:n] is a valid amount (money.amount_problem): digits with an optional fraction,
 * at most 18 digits after the point and 30 in all (leading zeros not counted), not zero. */
static int amount_valid(const char *p, Py_ssize_t n) {
    Py_ssize_t i = 0, whole_start = 0, whole_digits, frac = 0;
    int nonzero = 0;
    while (i < n && p[i] >= '0' && p[i] <= '9')
        nonzero |= p[i++] != '0';
    whole_digits = i;
    if (whole_digits == 0)
        return 0;
    while (whole_start < whole_digits && p[whole_start] == '0')
        whole_start++;
    if (i < n) {
        if (p[i++] != '.')
            return 0;
        Py_ssize_t frac_start = i;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            nonzero |= p[i++] != '0';
        frac = i - frac_start;
        if (frac == 0 || i != n)
            return 0;
    }
    return nonzero && frac <= 18 && (whole_digits - whole_start) + frac <= 30;
}

/* The amount as a Decimal (a new reference), NULL with no error set if it is not valid. */
static PyObject *amount_of(const char *p, Py_ssize_t n) {
    uint64_t h = fnv1a(p, n);
    PyObject *known = cache_get(&amounts, p, n, h);
    if (known)
        return known;
    if (!amount_valid(p, n))
        return NULL;
    PyObject *text = PyUnicode_FromStringAndSize(p, n);
    if (!text)
        return NULL;
    PyObject *value = PyObject_CallOneArg(decimal_type, text);
    Py_DECREF(text);
    if (value)
        cache_put(&amounts, p, n, h, value);
    return value;
}

/* Whether every character of `text` (at most `max` of them) is printable, or, with
 * `spaces`, a space separator (Zs: allowed in a memo, though not printable). 1 yes, 0 no. */
static int all_printable(PyObject *text, Py_ssize_t max, int spaces) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (n > max)
        return 0;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        if (Py_UNICODE_ISPRINTABLE(ch))
            continue;
        if (spaces && (ch == 0xA0 || ch == 0x1680 || (ch >= 0x2000 && ch <= 0x200A) || ch == 0x202F ||
                       ch == 0x205F || ch == 0x3000))
            continue;
        return 0;
    }
    return 1;
}

/* 1 if a text passes Python's `check` (None from it), 0 if not, -1 on error. Non-ASCII text
 * made only of printable characters (and, with `spaces`, space separators) is accepted here;
 * anything else is left to the Python rule, so this never accepts more than it does. */
static int text_ok(const char *p, Py_ssize_t n, Py_ssize_t max, int spaces, PyObject *check) {
    PyObject *text = decoded(p, n);
    if (!text)
        return PyErr_Occurred() ? -1 : 0;
    int ok = all_printable(text, max, spaces);
    if (!ok)
        ok = passes(check, text); /* -1 on an error, which must not read as "valid" */
    Py_DECREF(text);
    return ok;
}

enum { TEXT_BAD = 0, TEXT_OK = 1, TEXT_ASK = 2 };

/* The verdict on p[0:n] as free text of `min` to `max` characters, without making a str:
 * TEXT_OK if it is UTF-8 that PyUnicode_DecodeUTF8(..., "strict") accepts and each of its
 * characters is printable (Py_UNICODE_ISPRINTABLE, what str.isprintable() asks) or, with
 * `spaces`, a space separator, as all_printable() decides on the decoded str; TEXT_BAD if it
 * is not strict UTF-8 (a byte that starts no sequence, a truncated or overlong sequence, an
 * encoded surrogate, a code point past U+10FFFF), or has too few or too many characters:
 * the Python rules refuse all of these too; TEXT_ASK for valid UTF-8 holding any other
 * character (then the decoded text goes to the Python rule). Strict UTF-8 is exactly the
 * well-formed sequences of Unicode's table 3-7:
 *   00..7F | C2..DF 80..BF | E0 A0..BF 80..BF | E1..EC 80..BF 80..BF | ED 80..9F 80..BF
 *   | EE..EF 80..BF 80..BF | F0 90..BF 80..BF 80..BF | F1..F3 80..BF{3} | F4 80..8F 80..BF 80..BF */
static int text_scan(const char *text, Py_ssize_t n, Py_ssize_t min, Py_ssize_t max, int spaces) {
    const uint8_t *p = (const uint8_t *)text;
    Py_ssize_t i = 0, count = 0;
    int ask = 0;
    while (i < n) {
        uint8_t b = p[i];
        if (b < 0x80) { /* ASCII: printable from 0x20 to 0x7e */
            ask |= b < 0x20 || b == 0x7f;
            i++;
            count++;
            continue;
        }
        Py_UCS4 ch;
        if (b < 0xC2) { /* a continuation byte, or C0/C1 (overlong) */
            return TEXT_BAD;
        } else if (b < 0xE0) {
            if (n - i < 2 || (p[i + 1] & 0xC0) != 0x80)
                return TEXT_BAD;
            ch = (Py_UCS4)(b & 0x1F) << 6 | (p[i + 1] & 0x3F);
            i += 2;
        } else if (b < 0xF0) {
            uint8_t lo = b == 0xE0 ? 0xA0 : 0x80, hi = b == 0xED ? 0x9F : 0xBF; /* overlong; surrogates */
            if (n - i < 3 || p[i + 1] < lo || p[i + 1] > hi || (p[i + 2] & 0xC0) != 0x80)
                return TEXT_BAD;
            ch = (Py_UCS4)(b & 0x0F) << 12 | (Py_UCS4)(p[i + 1] & 0x3F) << 6 | (p[i + 2] & 0x3F);
            i += 3;
        } else if (b < 0xF5) {
            uint8_t lo = b == 0xF0 ? 0x90 : 0x80, hi = b == 0xF4 ? 0x8F : 0xBF; /* overlong; > U+10FFFF */
            if (n - i < 4 || p[i + 1] < lo || p[i + 1] > hi || (p[i + 2] & 0xC0) != 0x80 ||
                (p[i + 3] & 0xC0) != 0x80)
                return TEXT_BAD;
            ch = (Py_UCS4)(b & 0x07) << 18 | (Py_UCS4)(p[i + 1] & 0x3F) << 12 | (Py_UCS4)(p[i + 2] & 0x3F) << 6 |
                 (p[i + 3] & 0x3F);
            i += 4;
        } else { /* F5..FF start no sequence */
            return TEXT_BAD;
        }
        count++;
        if (!Py_UNICODE_ISPRINTABLE(ch) &&
            !(spaces && (ch == 0xA0 || ch == 0x1680 || (ch >= 0x2000 && ch <= 0x200A) || ch == 0x202F ||
                         ch == 0x205F || ch == 0x3000)))
            ask = 1;
    }
    if (count < min || count > max)
        return TEXT_BAD;
    return ask ? TEXT_ASK : TEXT_OK;
}

/* 1 if a memo (max 1000 characters, no control or format characters) is valid, 0 if not, -1 error. */
static int memo_ok(const char *p, Py_ssize_t n) {
    int verdict = text_scan(p, n, 0, 1000, 1);
    return verdict == TEXT_ASK ? text_ok(p, n, 1000, 1, memo_problem) : verdict == TEXT_OK;
}

/* 1 if an idempotency key (1-200 printable characters) is valid, 0 if not, -1 error. */
static int key_ok(const char *p, Py_ssize_t n) {
    int verdict = text_scan(p, n, 1, 200, 0);
    return verdict == TEXT_ASK ? text_ok(p, n, 200, 0, key_problem) : verdict == TEXT_OK;
}

PyDoc_STRVAR(text_ok_doc,
"text_ok(kind, text) -> bool: the extension's verdict on a memo or key (kind 'memo' or 'key'),\n"
"for the tests that hold it to ledger_cli.values.");

static PyObject *text_ok_py(PyObject *self, PyObject *args) {
    const char *kind, *p;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "ss#", &kind, &p, &n))
        return NULL;
    int ok = strcmp(kind, "memo") == 0 ? memo_ok(p, n) : key_ok(p, n);
    if (ok < 0)
        return NULL;
    return PyBool_FromLong(ok);
}

/* ---- days (contract section 7) -------------------------------------------------------------
 *
 * Every event has a date: a v2 line its own `date`, a v1 line the local calendar date of its
 * ts (dates.local_day: the reader's TZ, through localtime_r, as time.localtime reads it). Days
 * are held here as day numbers (days since 1970-01-01, dates.day_number) of real calendar dates
 * from 0001-01-01 to 9999-12-31: for those, comparing the numbers is comparing the ISO texts,
 * as the Python rules do. Anything else (a date that is not real, a ts whose day is not, a day
 * that would fall outside those years) is never decided here: the line goes to Python. */

static int digits(const char *p, int n) {
    for (int i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return 1;
}

typedef int32_t day_t;
#define NO_DAY INT32_MIN
#define FIRST_DAY (-719162) /* 0001-01-01 */
#define LAST_DAY 2932896    /* 9999-12-31 */

static const int MONTH_DAYS[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

/* dates.day_number of a real date (y >= 1, so every division here is of non-negative numbers). */
static day_t day_number(int y, int m, int d) {
    y -= m <= 2;
    int era = y / 400, yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The day number of p[0:10] if it is a real date (dates.is_day) in ISO form; 0 if it is not. */
static int day_of_text(const char *p, day_t *out) {
    if (p[4] != '-' || p[7] != '-' || !digits(p, 4) || !digits(p + 5, 2) || !digits(p + 8, 2))
        return 0;
    int y = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
    int m = (p[5] - '0') * 10 + (p[6] - '0'), d = (p[8] - '0') * 10 + (p[9] - '0');
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return 0;
    int leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    if (d > (m == 2 && leap ? 29 : MONTH_DAYS[m - 1]))
        return 0;
    *out = day_number(y, m, d);
    return 1;
}

/* dates.day_text: the ISO text (10 characters) of a day number from FIRST_DAY to LAST_DAY. */
static void day_text(day_t number, char out[10]) {
    int z = number + 719468;
    int era = z / 146097; /* z >= 0 from FIRST_DAY on */
    int doe = z - era * 146097;
    int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int mp = (5 * doy + 2) / 153;
    int d = doy - (153 * mp + 2) / 5 + 1, m = mp + (mp < 10 ? 3 : -9), y = yoe + era * 400 + (m <= 2);
    out[0] = (char)('0' + y / 1000), out[1] = (char)('0' + y / 100 % 10), out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10), out[4] = '-', out[5] = (char)('0' + m / 10), out[6] = (char)('0' + m % 10);
    out[7] = '-', out[8] = (char)('0' + d / 10), out[9] = (char)('0' + d % 10);
}

/* The day texts as str, shared by every entry written back (a log has few distinct days). */
static struct {
    day_t day;
    PyObject *text;
} day_texts[1024];

/* The str of a day (a borrowed reference, valid until the next call), NULL on an error. */
static PyObject *day_str(day_t day) {
    size_t i = (size_t)(uint32_t)day & 1023;
    if (day_texts[i].text && day_texts[i].day == day)
        return day_texts[i].text;
    char text[10];
    day_text(day, text);
    PyObject *s = PyUnicode_FromStringAndSize(text, 10);
    if (!s)
        return NULL;
    Py_XSETREF(day_texts[i].text, s);
    day_texts[i].day = day;
    return s;
}

/* The local calendar day of a ts (dates.local_day): the start of its minute, its offset from
 * UTC there (tm_gmtoff of localtime_r), the day of the sum. Like Python this reads the offset
 * at the minute's start, so one minute has one local day by construction, and the last minute
 * asked is remembered: a log's ts grow, and lines of one minute come together. The memory is
 * dropped with the books (every new fold), since TZ may change between folds (time.tzset).
 * 0 if the day is not decided here. */
typedef struct {
    char minute[16]; /* "YYYY-MM-DDTHH:MM" of the minute remembered, as in the ts */
    day_t day;
    char known;      /* 0: nothing remembered */
} LocalMemo;
static LocalMemo local_memo; /* the fold's (an export's writer has its own: the walk folds between its calls) */

#define local_day_of(ts, out) local_day_in(&local_memo, (ts), (out))

static int local_day_in(LocalMemo *memo, const char *ts, day_t *out) {
    if (memo->known && memcmp(ts, memo->minute, 16) == 0) {
        *out = memo->day;
        return 1;
    }
    day_t utc;
    if (!day_of_text(ts, &utc) || !digits(ts + 11, 2) || !digits(ts + 14, 2))
        return 0;
    int hh = (ts[11] - '0') * 10 + (ts[12] - '0'), mm = (ts[14] - '0') * 10 + (ts[15] - '0');
    if (hh > 23 || mm > 59)
        return 0; /* dates.local_day would still make a day of it: Python's to decide */
    long long epoch = (long long)utc * 86400 + hh * 3600 + mm * 60;
    time_t t = (time_t)epoch;
    struct tm tm;
    if (!localtime_r(&t, &tm))
        return 0;
    long long local = epoch + tm.tm_gmtoff;
    long long day = local >= 0 ? local / 86400 : -((-local + 86399) / 86400); /* floor, as // */
    if (day < FIRST_DAY || day > LAST_DAY)
        return 0;
    memcpy(memo->minute, ts, 16);
    memo->day = (day_t)day;
    memo->known = 1;
    *out = (day_t)day;
    return 1;
}

/* The day of the line's ts in UTC, plus one: the latest `date` a v2 line recorded then may
 * have (events.date_problem). Remembered for the last ts day asked. 0 if not decided here
 * (the ts's day is not real, or the day after it is past 9999-12-31, where the Python rule
 * compares "9999-12-31" with "10000-01-01" as texts). */
static struct {
    char text[10];
    day_t day;
} ts_memo = {"", 0}; /* "": never a ts's day (ts_ok: digits) */

static int latest_date_of(const char *ts, day_t *out) {
    if (memcmp(ts, ts_memo.text, 10) != 0) {
        day_t utc;
        if (!day_of_text(ts, &utc) || utc + 1 > LAST_DAY)
            return 0;
        memcpy(ts_memo.text, ts, 10);
        ts_memo.day = utc + 1;
    }
    *out = ts_memo.day;
    return 1;
}

/* ---- the books, mirrored in exact integers -------------------------------------------------
 *
 * During a fold the balances live here as integers of 10^-18 units (every valid amount has at
 * most 18 digits after the point) with the scale Decimal would keep (the most fraction digits
 * seen), so a movement costs no Python object. The State's dicts stay the truth: an account is
 * loaded from them on first touch, accounts opened here are put in them at once, and balances
 * changed here are written back by sync() before anything else reads them: before the Python
 * reader takes a line (those accounts, which it then changes: they are dropped here), before a
 * checkpoint is saved, and at the end of the fold. A balance that does not fit (more than 18
 * digits after the point, or near 10^19) is marked `foreign`: every line touching it goes to
 * Python. A mirror belongs to one fold, named by a token object; another token starts afresh.
 *
 * A Book mirrors, too, what the rules by date read of its account (books.State): its changes
 * by day (state.days[account]) as an array sorted by day, its latest day (state.last_day), and,
 * from its status list (state.status[account]), the day of its latest close (books.closed_on)
 * and of its reopening after that close (books.reopened_on), NO_DAY standing for None. They are
 * loaded and written back with the balance: sync() writes the day entries changed since the
 * last sync (each one is marked, and the lowest index marked is remembered, so a log without
 * backdating writes one entry per account per sync) and the latest day. Status entries (opens
 * and closes: rare) are appended to the Python lists at once, as opens are put in `opened`.
 * Anything there that does not read as the Python path writes it (a day that is not a real
 * date, a change that does not fit, days without a latest day) makes the account foreign. */

typedef __int128 units_t;
#define UNIT_DIGITS 18
#define MAX_WHOLE_DIGITS 19 /* amounts and balances below 10^19: sums of 10^5 of them fit */

typedef struct {
    units_t units; /* the net change of the balance dated `day` (entries stay at zero) */
    day_t day;
    uint8_t scale; /* the fraction digits Decimal keeps for it, as for balances */
    uint8_t dirty; /* changed since the last sync */
} Day;

typedef struct {
    PyObject *name; /* the account (a strong reference; NULL: a free slot) */
    Py_hash_t hash;
    units_t units;
    int scale;
    char open, dirty, foreign, stale;
    char days_dirty; /* a day entry, or the latest day, changed since the last sync */
    Day *days;       /* n entries in day order, room for cap */
    int32_t n, cap, dirty_from; /* dirty_from: no entry before it changed since the last sync */
    day_t last, closed, reopened; /* last_day[account], closed_on, reopened_on; NO_DAY: None */
} Book;

static struct {
    Book *slots;
    size_t mask, used;
    PyObject *token;
    PyObject *balances, *opened, *days, *last_day, *status; /* borrowed: the token's fold holds them */
    /* For matching reversals with their targets (see target_matches): samples[i] is the file
     * offset of line i * SAMPLE + 1 as this fold met it, -1 where it did not. */
    long long *samples;
    Py_ssize_t samples_n, samples_cap;
} books;


static void books_clear(void) {
    for (size_t i = 0; books.slots && i <= books.mask; i++) {
        Py_XDECREF(books.slots[i].name);
        PyMem_Free(books.slots[i].days);
    }
    PyMem_Free(books.slots);
    books.slots = NULL;
    books.mask = books.used = 0;
    Py_CLEAR(books.token);
    PyMem_Free(books.samples);
    books.samples = NULL;
    books.samples_n = books.samples_cap = 0;
    local_memo.known = 0; /* TZ may have changed (time.tzset) since */
}

static Book *books_slot(PyObject *name, Py_hash_t h) {
    size_t i = (size_t)h & books.mask;
    for (;;) {
        Book *b = &books.slots[i];
        if (!b->name || (b->hash == h && (b->name == name || PyUnicode_Compare(b->name, name) == 0)))
            return b;
        i = (i + 1) & books.mask;
    }
}

/* An amount's digits as an int and its fraction digits (at most MAX_WHOLE_DIGITS whole and
 * UNIT_DIGITS fraction digits); 0 if it does not fit. */
static int parse_scaled(const char *p, Py_ssize_t n, units_t *units, int *scale) {
    Py_ssize_t i = 0, whole = 0;
    units_t v = 0;
    while (i < n && p[i] == '0')
        i++;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        if (++whole > MAX_WHOLE_DIGITS)
            return 0;
        v = v * 10 + (p[i] - '0');
    }
    int frac = 0;
    if (i < n && p[i] == '.') {
        for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
            if (++frac > UNIT_DIGITS)
                return 0;
            v = v * 10 + (p[i] - '0');
        }
    }
    if (i != n)
        return 0;
    *units = v, *scale = frac;
    return 1;
}

/* Parse "digits[.digits]" (an amount, or a balance formatted with "f", maybe with a sign) into
 * units and scale; 0 if it does not fit. */
static int parse_units(const char *p, Py_ssize_t n, units_t *units, int *scale) {
    int negative = n > 0 && p[0] == '-';
    units_t v;
    if (!parse_scaled(p + negative, n - negative, &v, scale))
        return 0;
    for (int k = *scale; k < UNIT_DIGITS; k++)
        v *= 10;
    *units = negative ? -v : v;
    return 1;
}

/* A Decimal of the books (a balance or a day's change) as units and scale: 1, or 0 if it does
 * not fit (or is no finite number), -1 on a Python error. */
static int units_of(PyObject *value, units_t *units, int *scale) {
    PyObject *text = PyObject_Format(value, fixed_format);
    if (!text)
        return -1;
    Py_ssize_t n;
    const char *p = PyUnicode_AsUTF8AndSize(text, &n);
    int r = p ? parse_units(p, n, units, scale) : -1;
    Py_DECREF(text);
    return r;
}

static const uint64_t POW10[UNIT_DIGITS + 1] = {
    1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL, 100000000ULL, 1000000000ULL,
    10000000000ULL, 100000000000ULL, 1000000000000ULL, 10000000000000ULL, 100000000000000ULL,
    1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL, 1000000000000000000ULL,
};

/* format(Decimal, "f") of a balance held as `units` at `scale` fraction digits (an int of
 * units, not padded to UNIT_DIGITS: no 128-bit division for the balances that fit 64 bits),
 * into `text` (72 bytes); its length. */
static int units_text(units_t units, int scale, char *text) {
    char digits[64];
    int n = 0, negative = units < 0;
    unsigned __int128 v = negative ? -(unsigned __int128)units : (unsigned __int128)units;
    for (; v > UINT64_MAX; v /= 10)
        digits[n++] = (char)('0' + (int)(v % 10));
    uint64_t w = (uint64_t)v;
    do {
        digits[n++] = (char)('0' + (int)(w % 10));
        w /= 10;
    } while (w);
    while (n <= scale)
        digits[n++] = '0';
    int t = 0;
    if (negative)
        text[t++] = '-';
    for (int k = n - 1; k >= 0; k--) {
        text[t++] = digits[k];
        if (k == scale && scale > 0)
            text[t++] = '.';
    }
    return t;
}

/* The Decimal of a balance: its units shown with `scale` fraction digits. */
static PyObject *units_decimal(units_t units, int scale) {
    char text[80];
    units_t scaled = units / (units_t)POW10[UNIT_DIGITS - scale]; /* exact: no more than `scale` digits */
    PyObject *str = PyUnicode_FromStringAndSize(text, units_text(scaled, scale, text));
    if (!str)
        return NULL;
    PyObject *value = PyObject_CallOneArg(decimal_type, str);
    Py_DECREF(str);
    return value;
}

/* 1 with the day number of `text` if it is the str of a real date, 0 if it is anything else. */
static int day_of_str(PyObject *text, day_t *day) {
    if (!PyUnicode_Check(text) || PyUnicode_GET_LENGTH(text) != 10 || !PyUnicode_IS_ASCII(text))
        return 0;
    return day_of_text((const char *)PyUnicode_DATA(text), day);
}

static int day_cmp(const void *a, const void *b) {
    day_t x = ((const Day *)a)->day, y = ((const Day *)b)->day;
    return (x > y) - (x < y);
}

/* Whether the fold's days hold only the changes since a checkpoint (fold(..., partial)): a
 * debit dated before an account's latest day then goes to Python, which has the rest. */
static int days_partial;

/* Load the account's days, latest day and status-derived days into `e` (from NO_DAY and no
 * days); e->foreign is set for anything that does not read as the Python path writes it. */
static int book_load_days(Book *e, PyObject *name) {
    PyObject *changes = PyDict_GetItemWithError(books.days, name);
    if (!changes && PyErr_Occurred())
        return -1;
    if (changes && (!PyDict_Check(changes) || PyDict_GET_SIZE(changes) == 0)) {
        e->foreign = 1; /* an empty dict: add_day would read a last day it may not have */
        return 0;
    }
    if (changes) {
        Py_ssize_t size = PyDict_GET_SIZE(changes), at = 0;
        if (size > INT32_MAX / 2 || !(e->days = PyMem_Malloc((size_t)(size + 8) * sizeof(Day)))) {
            PyErr_NoMemory();
            return -1;
        }
        e->cap = (int32_t)size + 8;
        PyObject *key, *value;
        while (PyDict_Next(changes, &at, &key, &value)) {
            Day *entry = &e->days[e->n];
            int scale, r;
            if (!day_of_str(key, &entry->day) || (r = units_of(value, &entry->units, &scale)) == 0) {
                e->foreign = 1;
                return 0;
            }
            if (r < 0)
                return -1;
            entry->scale = (uint8_t)scale;
            entry->dirty = 0;
            e->n++;
        }
        qsort(e->days, (size_t)e->n, sizeof(Day), day_cmp);
    }
    PyObject *last = PyDict_GetItemWithError(books.last_day, name);
    if (!last && PyErr_Occurred())
        return -1;
    /* (a fold from a checkpoint has an account's latest day but not its days: days_partial) */
    if ((!days_partial && (last != NULL) != (e->n > 0)) || (last && !day_of_str(last, &e->last))) {
        e->foreign = 1;
        return 0;
    }
    PyObject *status = PyDict_GetItemWithError(books.status, name);
    if (!status && PyErr_Occurred())
        return -1;
    if (!status)
        return 0;
    if (!PyList_Check(status)) {
        e->foreign = 1;
        return 0;
    }
    /* closed_on: the date of the latest close; reopened_on: that of the entry after it, if any. */
    for (Py_ssize_t i = PyList_GET_SIZE(status) - 1; i >= 0; i--) {
        PyObject *entry = PyList_GET_ITEM(status, i);
        if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 3) {
            e->foreign = 1;
            return 0;
        }
        int opened = PyObject_IsTrue(PyTuple_GET_ITEM(entry, 2));
        if (opened < 0)
            return -1;
        if (opened)
            continue;
        if (!day_of_str(PyTuple_GET_ITEM(entry, 0), &e->closed)) {
            e->foreign = 1;
            return 0;
        }
        if (i + 1 < PyList_GET_SIZE(status)) {
            PyObject *next = PyList_GET_ITEM(status, i + 1);
            if (!PyTuple_Check(next) || PyTuple_GET_SIZE(next) != 3 || !day_of_str(PyTuple_GET_ITEM(next, 0), &e->reopened))
                e->foreign = 1;
        }
        break;
    }
    return 0;
}

/* Write what changed of `b` since the last sync back to the dicts: its balance, its day entries
 * (from dirty_from on, those marked) and its latest day. */
/* Whether a sync writes the changes per day back (sync's `days`): a report that never reads
 * them (balance --no-cache, verify) leaves them here, and the books are dropped after. */
static int write_days = 1;

static int book_write(Book *b) {
    if (b->dirty) {
        PyObject *value = units_decimal(b->units, b->scale);
        if (!value || PyDict_SetItem(books.balances, b->name, value) < 0) {
            Py_XDECREF(value);
            return -1;
        }
        Py_DECREF(value);
        b->dirty = 0;
    }
    if (b->days_dirty && !write_days) { /* sync(token, None, False): the latest day only */
        PyObject *last = day_str(b->last);
        if (!last || PyDict_SetItem(books.last_day, b->name, last) < 0)
            return -1;
    } else if (b->days_dirty) {
        PyObject *changes = PyDict_GetItemWithError(books.days, b->name);
        if (!changes) {
            if (PyErr_Occurred() || !(changes = PyDict_New()))
                return -1;
            int r = PyDict_SetItem(books.days, b->name, changes);
            Py_DECREF(changes); /* books.days holds it */
            if (r < 0)
                return -1;
        } else if (!PyDict_Check(changes)) { /* it was a dict when loaded (else: foreign) */
            PyErr_SetString(PyExc_SystemError, "sync: state.days changed under the fold");
            return -1;
        }
        for (int32_t i = b->dirty_from; i < b->n; i++) {
            Day *entry = &b->days[i];
            if (!entry->dirty)
                continue;
            PyObject *day = day_str(entry->day), *value = day ? units_decimal(entry->units, entry->scale) : NULL;
            if (!value || PyDict_SetItem(changes, day, value) < 0) {
                Py_XDECREF(value);
                return -1;
            }
            Py_DECREF(value);
            entry->dirty = 0;
        }
        PyObject *last = day_str(b->last);
        if (!last || PyDict_SetItem(books.last_day, b->name, last) < 0)
            return -1;
        b->days_dirty = 0;
    }
    return 0;
}

/* Start (or go on with) the mirror of the fold named by `token`. */
static int books_begin(PyObject *token, PyObject *balances, PyObject *opened, PyObject *days, PyObject *last_day,
                       PyObject *status) {
    if (books.token == token && books.balances == balances && books.opened == opened && books.days == days &&
        books.last_day == last_day && books.status == status)
        return 0;
    books_clear();
    books.mask = 1023;
    if (!(books.slots = PyMem_Calloc(books.mask + 1, sizeof(Book)))) {
        PyErr_NoMemory();
        return -1;
    }
    Py_INCREF(token);
    books.token = token;
    books.balances = balances;
    books.opened = opened;
    books.days = days;
    books.last_day = last_day;
    books.status = status;
    return 0;
}

static int books_grow(void) {
    Book *old = books.slots;
    size_t old_size = books.mask + 1;
    Book *slots = PyMem_Calloc(old_size * 2, sizeof(Book));
    if (!slots) {
        PyErr_NoMemory();
        return -1;
    }
    books.slots = slots;
    books.mask = old_size * 2 - 1;
    for (size_t i = 0; i < old_size; i++)
        if (old[i].name)
            *books_slot(old[i].name, old[i].hash) = old[i];
    PyMem_Free(old);
    return 0;
}

/* The mirrored account `name`: loaded from the dicts on first touch. *found is 0 for an
 * account the books do not know (none is made). -1 on a Python error. */
static int book_of(PyObject *name, Book **found) {
    Py_hash_t h = PyObject_Hash(name);
    if (h == -1)
        return -1;
    Book *b = books_slot(name, h); /* the caller made room (books_room) */
    if (b->name && !b->stale) {
        *found = b;
        return 0;
    }
    PyObject *is_open = PyDict_GetItemWithError(books.opened, name);
    if (!is_open) {
        *found = NULL;
        return PyErr_Occurred() ? -1 : 0;
    }
    PyObject *balance = PyDict_GetItemWithError(books.balances, name);
    if (!balance && PyErr_Occurred())
        return -1;
    Book entry = {.hash = h, .open = is_open == Py_True, .foreign = 1, .last = NO_DAY, .closed = NO_DAY,
                  .reopened = NO_DAY};
    if (balance) { /* a balance that does not parse or fit stays foreign: Python's */
        int r = units_of(balance, &entry.units, &entry.scale);
        if (r < 0)
            return -1;
        entry.foreign = !r;
    }
    if (book_load_days(&entry, name) < 0) {
        PyMem_Free(entry.days);
        return -1;
    }
    if (b->name) { /* stale: Python changed it; load it again in place (sync wrote it first) */
        entry.name = b->name;
        PyMem_Free(b->days);
    } else {
        Py_INCREF(name);
        entry.name = name;
        books.used++;
    }
    *b = entry;
    *found = b;
    return 0;
}

/* Room for two more accounts, so that no lookup of one line moves another's Book. */
static int books_room(void) {
    return (books.used + 2) * 2 > books.mask + 1 ? books_grow() : 0;
}

/* A new account, opened with the balance `value`: put in the dicts at once, then mirrored. */
static int book_new(PyObject *name, PyObject *value, Book **made) {
    if (PyDict_SetItem(books.opened, name, Py_True) < 0 || PyDict_SetItem(books.balances, name, value) < 0)
        return -1;
    return book_of(name, made);
}

/* Write the changed balances back to the dicts: all of them, or those of `names` (a tuple of
 * str or None), which are then marked stale because Python is about to change them. */
static int books_sync(PyObject *names) {
    if (!books.slots)
        return 0;
    if (names == Py_None) {
        for (size_t i = 0; i <= books.mask; i++) {
            Book *b = &books.slots[i];
            if (b->name && (b->dirty || b->days_dirty) && book_write(b) < 0)
                return -1;
        }
        return 0;
    }
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(names); k++) {
        PyObject *name = PyTuple_GET_ITEM(names, k);
        if (name == Py_None)
            continue;
        Py_hash_t h = PyObject_Hash(name);
        if (h == -1)
            return -1;
        Book *b = books_slot(name, h);
        if (!b->name)
            continue;
        if ((b->dirty || b->days_dirty) && book_write(b) < 0)
            return -1;
        b->stale = 1;
    }
    return 0;
}

/* ---- an account's days ---------------------------------------------------------------------
 * books.add_day and books.low_from on a Book's array. A line's change is checked (room for one
 * more entry, and a sum that fits) before anything of the line is applied, so that applying it
 * cannot fail half-way. */

/* Where `day` is in b's days (*found 1), or where it goes (the index of the first later day).
 * Most lines are dated on or after the account's latest day: that is looked at first. */
static inline int32_t day_index(const Book *b, day_t day, int *found) {
    int32_t lo = 0, hi = b->n;
    if (hi && b->days[hi - 1].day <= day) {
        *found = b->days[hi - 1].day == day;
        return *found ? hi - 1 : hi;
    }
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (b->days[mid].day < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < b->n && b->days[lo].day == day;
    return lo;
}

/* Get b ready for the change `delta` dated `day`: room for one more entry, and a sum that fits.
 * 1 with *at the entry's index (found) or -1 - the index where it goes (a new day); 0 if the
 * sum does not fit (the line is then Python's); -1 with no memory. */
static int day_prepare(Book *b, day_t day, units_t delta, int32_t *at) {
    if (b->n == b->cap) {
        int32_t cap = b->cap ? b->cap * 2 : 8;
        Day *grown = b->cap < INT32_MAX / 2 ? PyMem_Realloc(b->days, (size_t)cap * sizeof(Day)) : NULL;
        if (!grown) {
            PyErr_NoMemory();
            return -1;
        }
        b->days = grown;
        b->cap = cap;
    }
    int found;
    int32_t i = day_index(b, day, &found);
    units_t sum;
    if (found && __builtin_add_overflow(b->days[i].units, delta, &sum))
        return 0;
    *at = found ? i : -1 - i;
    return 1;
}

/* books.add_day: the change `delta` (of `scale` fraction digits) dated `day`, at the place
 * day_prepare() found (nothing of b changed since). */
static void day_add(Book *b, int32_t at, day_t day, units_t delta, int scale) {
    int32_t i = at >= 0 ? at : -1 - at;
    Day *entry = &b->days[i];
    if (at >= 0) {
        entry->units += delta;
        entry->scale = entry->scale > scale ? entry->scale : (uint8_t)scale;
    } else {
        memmove(entry + 1, entry, (size_t)(b->n - i) * sizeof(Day));
        entry->units = delta;
        entry->day = day;
        entry->scale = (uint8_t)scale;
        b->n++;
    }
    entry->dirty = 1;
    if (!b->days_dirty || i < b->dirty_from)
        b->dirty_from = i;
    b->days_dirty = 1;
    if (day > b->last) /* NO_DAY before any: add_day sets the latest day then */
        b->last = day;
}

/* Whether b's lowest balance by date on `day` and every later day (books.low_from: the balance
 * less the changes dated after `day`, then each later day's change added in turn) stays at
 * `amount` or more. 0 also when a sum does not fit: the line is then Python's. */
static int low_covers(const Book *b, day_t day, units_t amount) {
    int found;
    int32_t first = day_index(b, day, &found) + found; /* the first entry dated after `day` */
    units_t later = 0, run;
    for (int32_t i = first; i < b->n; i++)
        if (__builtin_add_overflow(later, b->days[i].units, &later))
            return 0;
    if (__builtin_sub_overflow(b->units, later, &run) || run < amount)
        return 0;
    for (int32_t i = first; i < b->n; i++)
        if (__builtin_add_overflow(run, b->days[i].units, &run) || run < amount)
            return 0;
    return 1;
}

/* Append (date, seq, opened) to state.status[account] (made if missing): evolve() of an open
 * or a close. */
static int status_append(PyObject *account, day_t day, long long seq, int opened) {
    PyObject *list = PyDict_GetItemWithError(books.status, account);
    if (!list) {
        if (PyErr_Occurred() || !(list = PyList_New(0)))
            return -1;
        int r = PyDict_SetItem(books.status, account, list);
        Py_DECREF(list); /* books.status holds it */
        if (r < 0)
            return -1;
    } else if (!PyList_Check(list)) {
        PyErr_SetString(PyExc_SystemError, "fold: a status entry is not a list");
        return -1;
    }
    PyObject *text = day_str(day);
    PyObject *entry = text ? Py_BuildValue("(OLO)", text, seq, opened ? Py_True : Py_False) : NULL;
    int r = entry ? PyList_Append(list, entry) : -1;
    Py_XDECREF(entry);
    return r;
}

/* ---- the canonical line ------------------------------------------------------------------- */

typedef struct {
    const char *p, *end;
} Cur;

static int lit(Cur *c, const char *s, size_t n) {
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n) != 0)
        return 0;
    c->p += n;
    return 1;
}
#define LIT(c, s) lit((c), (s), sizeof(s) - 1)

/* A string's bytes up to its closing quote; 0 if it holds an escape or a control byte. */
static int str_body(Cur *c, const char **s, Py_ssize_t *n) {
    const char *q = c->p;
    while (q < c->end && *q != '"') {
        if (*q == '\\' || (uint8_t)*q < 0x20)
            return 0;
        q++;
    }
    if (q >= c->end)
        return 0;
    *s = c->p;
    *n = q - c->p;
    c->p = q + 1;
    return 1;
}

/* A memo's or key's string, like str_body, but the two escapes a canonical line holds for a
 * valid text (\" and \\: json.dumps writes no other for text without control characters) are
 * undone into `buf` (`cap` bytes), and the text is then read from there. 0 for any other escape,
 * a control byte, or a text longer than `cap`: the Python reader names what is wrong. */
static int text_body(Cur *c, char *buf, Py_ssize_t cap, const char **s, Py_ssize_t *n) {
    const char *q = c->p;
    while (q < c->end && *q != '"' && *q != '\\') {
        if ((uint8_t)*q < 0x20)
            return 0;
        q++;
    }
    if (q >= c->end)
        return 0;
    if (*q == '"') {
        *s = c->p;
        *n = q - c->p;
        c->p = q + 1;
        return 1;
    }
    Py_ssize_t len = q - c->p;
    if (len > cap)
        return 0;
    memcpy(buf, c->p, (size_t)len);
    while (q < c->end && *q != '"') {
        char ch = *q;
        if (ch == '\\') {
            if (q + 1 >= c->end || (q[1] != '"' && q[1] != '\\'))
                return 0;
            ch = q[1];
            q += 2;
        } else {
            if ((uint8_t)ch < 0x20)
                return 0;
            q++;
        }
        if (len >= cap)
            return 0;
        buf[len++] = ch;
    }
    if (q >= c->end)
        return 0;
    *s = buf;
    *n = len;
    c->p = q + 1;
    return 1;
}

static uint8_t HEX[256]; /* 1 for 0-9 and a-f (set at import) */

static int hexdigits(const char *p, int n) {
    int ok = 1;
    for (int i = 0; i < n; i++) /* no branch per digit: hex digits are random */
        ok &= HEX[(uint8_t)p[i]];
    return ok;
}

static int id_ok(const char *p, Py_ssize_t n) { /* [0-9a-f]{8}-{4}-{4}-{4}-{12} */
    return n == 36 && p[8] == '-' && p[13] == '-' && p[18] == '-' && p[23] == '-' && hexdigits(p, 8) &&
           hexdigits(p + 9, 4) && hexdigits(p + 14, 4) && hexdigits(p + 19, 4) && hexdigits(p + 24, 12);
}

static int ts_ok(const char *p, Py_ssize_t n) { /* YYYY-MM-DDTHH:MM:SS.ffffffZ */
    return n == 27 && p[4] == '-' && p[7] == '-' && p[10] == 'T' && p[13] == ':' && p[16] == ':' &&
           p[19] == '.' && p[26] == 'Z' && digits(p, 4) && digits(p + 5, 2) && digits(p + 8, 2) &&
           digits(p + 11, 2) && digits(p + 14, 2) && digits(p + 17, 2) && digits(p + 20, 6);
}

/* Compare like Python compares two ASCII str. */
static int cmp_text(const char *a, Py_ssize_t na, const char *b, Py_ssize_t nb) {
    int r = memcmp(a, b, (size_t)(na < nb ? na : nb));
    return r ? r : (na > nb) - (na < nb);
}

enum { DEPOSITED, WITHDRAWN, TRANSFERRED, OPENED, CLOSED, REVERSED }; /* movements first */

typedef struct {
    const char *account, *amount, *date, *id, *key, *memo, *prev, *to, *ts, *type, *hash;
    Py_ssize_t account_n, amount_n, id_n, key_n, memo_n, to_n, ts_n, type_n;
    long long seq, target; /* target: 0 when the line has none */
    int kind, v;           /* v: 1 (no date) or 2 (a date: 10 bytes, not yet checked) */
    day_t day;             /* the line's date (events.date_of), set by line_day() */
    const char *body_end; /* where `,"hash":` starts */
    char memo_buf[4000], key_buf[800]; /* an escaped memo or key, undone (1000 and 200 characters) */
} Line;

/* A JSON integer as json.dumps writes a positive one (no sign, no leading zero), of at most
 * 18 digits; 0 if there is none there. */
static long long positive_int(Cur *c) {
    if (c->p >= c->end || *c->p < '1' || *c->p > '9')
        return 0;
    long long value = 0;
    int nd = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9' && nd < 18) {
        value = value * 10 + (*c->p++ - '0');
        nd++;
    }
    return value; /* a 19th digit is left in place: the next literal then fails */
}

/* The members every line has between its date and its seq, in order: id, key?, memo?, prev,
 * seq (parse_line's, and the export's parse_period's); 0 if they are not there as canonical. */
static inline int line_middle(Cur *cur, Line *ln) {
    Cur c = *cur;
    const char *end = c.end;
    if (!LIT(&c, ",\"id\":\"") || !str_body(&c, &ln->id, &ln->id_n))
        return 0;
    if (LIT(&c, ",\"key\":\"") && !text_body(&c, ln->key_buf, sizeof ln->key_buf, &ln->key, &ln->key_n))
        return 0;
    if (LIT(&c, ",\"memo\":\"") && !text_body(&c, ln->memo_buf, sizeof ln->memo_buf, &ln->memo, &ln->memo_n))
        return 0;
    if (!LIT(&c, ",\"prev\":\"") || end - c.p < 65 || c.p[64] != '"')
        return 0;
    ln->prev = c.p;
    c.p += 65;
    if (!LIT(&c, ",\"seq\":") || !(ln->seq = positive_int(&c)))
        return 0;
    *cur = c;
    return 1;
}

/* Parse one line in canonical form: a movement, an open or a close, or a reversal (fields in
 * sorted order: account?, amount, date?, id, key?, memo?, prev, seq, target, to?, ts, type, v,
 * with `account` or `to` or both); each with exactly the fields events.GOOD_SHAPES allows for
 * its type, and a `date` if and only if it is v2 (events._version_problem: v1 or v2, nothing
 * else). 0 if it is anything else. The date is only cut out here: line_day() reads it. */
static int parse_line(const char *p, const char *end, Line *ln) {
    Cur c = {p, end};
    ln->account = ln->amount = ln->date = ln->key = ln->memo = ln->to = NULL;
    ln->account_n = ln->amount_n = ln->key_n = ln->memo_n = ln->to_n = 0;
    ln->target = 0;
    if (LIT(&c, "{\"account\":\"")) {
        if (!str_body(&c, &ln->account, &ln->account_n))
            return 0;
        if (LIT(&c, ",\"amount\":\"") && !str_body(&c, &ln->amount, &ln->amount_n))
            return 0;
    } else if (!LIT(&c, "{\"amount\":\"") || !str_body(&c, &ln->amount, &ln->amount_n)) {
        return 0; /* no account: only a reversal that credits `to` */
    }
    if (LIT(&c, ",\"date\":\"")) {
        if (end - c.p < 11 || c.p[10] != '"')
            return 0;
        ln->date = c.p;
        c.p += 11;
    }
    if (!line_middle(&c, ln))
        return 0;
    if (LIT(&c, ",\"target\":") && !(ln->target = positive_int(&c)))
        return 0; /* 0 or negative: Python's (it names the problem) */
    if (LIT(&c, ",\"to\":\"") && !str_body(&c, &ln->to, &ln->to_n))
        return 0;
    if (!LIT(&c, ",\"ts\":\"") || !str_body(&c, &ln->ts, &ln->ts_n))
        return 0;
    if (!LIT(&c, ",\"type\":\"") || !str_body(&c, &ln->type, &ln->type_n))
        return 0;
    if (LIT(&c, ",\"v\":1"))
        ln->v = 1;
    else if (LIT(&c, ",\"v\":2"))
        ln->v = 2;
    else
        return 0;
    if ((ln->v == 2) != (ln->date != NULL))
        return 0;
    ln->body_end = c.p;
    if (!LIT(&c, ",\"hash\":\"") || end - c.p != 66 || c.p[64] != '"' || c.p[65] != '}')
        return 0;
    ln->hash = c.p; /* compared with the digest computed here, so it is hex if it matches */
#define IS(s) (ln->type_n == sizeof(s) - 1 && memcmp(ln->type, s, sizeof(s) - 1) == 0)
    if (IS("deposited"))
        ln->kind = DEPOSITED;
    else if (IS("withdrawn"))
        ln->kind = WITHDRAWN;
    else if (IS("transferred"))
        ln->kind = TRANSFERRED;
    else if (IS("account_opened"))
        ln->kind = OPENED;
    else if (IS("account_closed"))
        ln->kind = CLOSED;
    else if (IS("reversed"))
        ln->kind = REVERSED;
    else
        return 0;
#undef IS
    if (ln->kind == REVERSED) { /* target and amount, and account or to or both */
        if (!ln->target || !ln->amount || (!ln->account && !ln->to))
            return 0;
    } else if (ln->target || !ln->account || (ln->kind == TRANSFERRED) != (ln->to != NULL) ||
               (ln->kind == OPENED || ln->kind == CLOSED) != (ln->amount == NULL)) {
        return 0;
    }
    return id_ok(ln->id, ln->id_n) && ts_ok(ln->ts, ln->ts_n);
}

/* The day of a parsed line (events.date_of) into ln->day: a v2 line's `date`, which must be a
 * real date no later than the day after its ts's UTC day (events.date_problem), or a v1 line's
 * local day of its ts. 0 if that is not decided here (the line is then Python's). */
static struct {
    char text[10]; /* the last date read (lines of a day come together) */
    day_t day;
    char known;    /* 0: nothing remembered */
} date_memo;

static int line_day(Line *ln) {
    if (!ln->date)
        return local_day_of(ln->ts, &ln->day);
    if (date_memo.known && memcmp(ln->date, date_memo.text, 10) == 0) {
        ln->day = date_memo.day;
    } else {
        if (!day_of_text(ln->date, &ln->day))
            return 0;
        memcpy(date_memo.text, ln->date, 10);
        date_memo.day = ln->day;
        date_memo.known = 1;
    }
    day_t latest;
    return latest_date_of(ln->ts, &latest) && ln->day <= latest;
}

/* ---- fold --------------------------------------------------------------------------------- */

enum { DONE = 0, HANDOFF = 1, BOUND = 2 };

PyDoc_STRVAR(fold_doc,
"fold(block, pos, seq, head, ts, balances, opened, keys, stop_seq, stop_ts, token, starts=None, only=None,\n"
"     reversed_by=None, reversals=None, fd=-1, offset=0, days, last_day, status, closed_through=None,\n"
"     partial=False, opened_on=None, offday=None)\n"
"-> (code, pos, seq, head, ts, line_start)\n\n"
"Apply the events in block[pos:] (whole lines) that follow event `seq` with hash `head`\n"
"and timestamp `ts`, each verified, to the dicts. code 0: every line was applied; 1: the line\n"
"at `pos` needs the Python reader; 2: event `stop_seq` was applied, or the line at `pos` lies\n"
"after `stop_ts`. `line_start` is where the last applied line starts (-1 if none). With a\n"
"list `starts`, the start of every applied line is appended to it; with `only` (an account),\n"
"only of the lines whose account or `to` is that account or one of its sub-accounts.\n\n"
"`keys` (idempotency key -> seq) may be None: the keys are then validated, not collected.\n"
"With a dict `reversed_by` (target seq -> reversal seq) reversals are applied here too (else\n"
"they are handed to Python), and with a list `reversals` the start of each one applied is\n"
"appended to it; given also the file descriptor `fd` of the log, whose byte `offset` the\n"
"block starts at, only of each one that it could not prove undoes its target (verify's\n"
"domain.reversal_matches, the dates included), reading the target's line from `fd`.\n\n"
"`days`, `last_day`, `status` and `opened_on` are the State's dicts of the books by date\n"
"(required), and\n"
"`closed_through` its closed period's last day (a str, or None): v1 and v2 lines are applied\n"
"under the rules in both orders (contract section 7); period events, and every line the rules\n"
"by date refuse, go to Python. With `partial`, `days` holds only the changes since a checkpoint:\n"
"every debit dated before its account's latest day goes to Python too (it has the rest). With a\n"
"list `offday`, each applied v2 line dated other than the local day of its ts is appended to it\n"
"as (seq, date, type, account, to, amount) (books.OffDay).\n\n"
"The balances and days are kept in the extension's books between calls with the same `token`\n"
"(an object naming one fold): call sync(token) before reading `balances`, `days` or `last_day`,\n"
"and sync(token, (account, to)) before changing those accounts in Python.");

/* Whether the account name a[0:n] is `prefix` or one of its sub-accounts (values.covers). */
static int covers(const char *prefix, Py_ssize_t prefix_n, const char *a, Py_ssize_t n) {
    return a && n >= prefix_n && memcmp(a, prefix, (size_t)prefix_n) == 0 && (n == prefix_n || a[prefix_n] == ':');
}

enum { APPLIED = 3, FAILED = -1 };

/* The dicts a fold changes besides those held in the books: borrowed references. */
typedef struct {
    PyObject *opened, *keys, *reversed_by; /* keys, reversed_by: NULL when not wanted */
    PyObject *opened_on;                   /* state.opened_on: account -> the date of its first open */
    PyObject *offday;                      /* state.offday (a list), or NULL: not collected */
    day_t through; /* state.closed_through as a day: NO_DAY when nothing is closed, and INT32_MAX
                    * when it is no date read here (then every line goes to Python) */
} Dicts;

/* Verify and apply the line p[0:nl]; APPLIED, HANDOFF, BOUND (a valid line after stop_ts,
 * not applied) or FAILED (a Python exception is set).
 *
 * The rules are domain.check's, each a mirror of one of its functions (so every line one of
 * them refuses goes to Python, which names the problem), in both orders (contract section 7):
 * no line is dated on or before the closed period's last day (_closed_period_problem); a
 * deposit's account must not be closed (_destination_problem); a withdrawal's or transfer's
 * source must be open with the funds (_source_problem), a transfer's destination not closed
 * and not its source; only an account that is not open opens, only an open one at zero closes
 * (_close_problem). A reversal (_reversal_problem): 1 <= target < seq, target not reversed yet,
 * `account` (if any) not `to` and open with the funds, `to` (if any) known and open; it opens
 * nothing. By date: nothing is dated before the latest reopening of an account it touches
 * (_reopening_problem: credits, debits and closes); a debit dated before the account's latest
 * day leaves its lowest balance by date from that day on at the amount or more
 * (_dated_debit_problem); a close is dated on or after the latest day; a closed account
 * reopens on or after the day it was closed (_open_problem). NO_DAY (INT32_MIN) for "none"
 * makes each of these comparisons false, as the Python rules skip them for None. */
static int fold_line(const char *p, const char *nl, long long seq, const char *head, const char *ts,
                     Py_ssize_t tsn, const char *stop_ts, Py_ssize_t stop_ts_n, Dicts *d, Line *ln) {
    if (!parse_line(p, nl, ln) || (ln->kind == REVERSED && !d->reversed_by) || ln->seq != seq + 1 ||
        memcmp(ln->prev, head, 64) != 0 || cmp_text(ln->ts, 27, ts, tsn) < 0 || !line_day(ln) ||
        ln->day <= d->through)
        return HANDOFF;
    int code = HANDOFF;
    PyObject *account = NULL, *to = NULL, *key = NULL, *value = NULL, *target = NULL, *by = NULL;
    units_t units = 0;
    int scale = 0;
    day_t day = ln->day;
    char digest[64];
    Book *acct = NULL, *dest = NULL;
    if (ln->account && !(account = account_of(ln->account, ln->account_n)))
        goto done;
    if (ln->to && !(to = account_of(ln->to, ln->to_n)))
        goto done;
    /* The Books before the hash (finding them changes nothing), and their latest days asked of
     * the memory, which then comes while the hash is computed. */
    if (books_room() < 0 || (account && book_of(account, &acct) < 0))
        goto done;
    if (to) {
        if (account && ln->to_n == ln->account_n && memcmp(ln->to, ln->account, (size_t)ln->to_n) == 0)
            goto done;
        if (book_of(to, &dest) < 0)
            goto done;
    }
    if (acct && acct->n)
        __builtin_prefetch(&acct->days[acct->n - 1], 1);
    if (dest && dest->n)
        __builtin_prefetch(&dest->days[dest->n - 1], 1);
    sha256_hex_plus((const uint8_t *)p, (size_t)(ln->body_end - p), '}', digest);
    if (memcmp(digest, ln->hash, 64) != 0)
        goto done;
    if (ln->amount && (!amount_valid(ln->amount, ln->amount_n) || !parse_units(ln->amount, ln->amount_n, &units, &scale)))
        goto done; /* not valid, or too big to mirror: Python's */
    if (ln->memo && memo_ok(ln->memo, ln->memo_n) <= 0)
        goto done;
    if (ln->key && key_ok(ln->key, ln->key_n) <= 0)
        goto done;
    if (stop_ts && cmp_text(ln->ts, 27, stop_ts, stop_ts_n) > 0) { /* a valid line past the bound */
        code = BOUND;
        goto done;
    }
    /* The rules, all checked before anything changes. */
    if ((acct && acct->foreign) || (dest && dest->foreign))
        goto done;
    Book *credit = ln->kind == DEPOSITED ? acct : ln->kind == TRANSFERRED || ln->kind == REVERSED ? dest : NULL;
    Book *debit = ln->kind == WITHDRAWN || ln->kind == TRANSFERRED || ln->kind == REVERSED ? acct : NULL;
    units_t credited = 0;
    int32_t debit_at = 0, credit_at = 0;
    switch (ln->kind) {
    case DEPOSITED:
        if (acct && (!acct->open || day < acct->reopened))
            goto done;
        break;
    case WITHDRAWN:
    case TRANSFERRED:
        if (!acct || !acct->open || acct->units < units || day < acct->reopened ||
            (day < acct->last && (days_partial || !low_covers(acct, day, units))) || (dest && (!dest->open || day < dest->reopened)))
            goto done;
        break;
    case OPENED:
        if (acct && (acct->open || day < acct->closed))
            goto done;
        break;
    case CLOSED:
        if (!acct || !acct->open || acct->units != 0 || acct->last > day || day < acct->reopened)
            goto done;
        break;
    default: /* REVERSED */
        if (ln->target >= ln->seq ||
            (account && (!acct || !acct->open || acct->units < units || day < acct->reopened ||
                         (day < acct->last && (days_partial || !low_covers(acct, day, units))))) ||
            (to && (!dest || !dest->open || day < dest->reopened)))
            goto done;
        if (!(target = PyLong_FromLongLong(ln->target)) || !(by = PyLong_FromLongLong(ln->seq)))
            goto done;
        int reversed = PyDict_Contains(d->reversed_by, target);
        if (reversed != 0) /* already reversed (1), or an error (-1: FAILED below) */
            goto done;
    }
    if (credit && __builtin_add_overflow(credit->units, units, &credited))
        goto done;
    /* Room for the day entries, and sums that fit (0: Python's; -1: no memory, FAILED below). */
    if (debit && day_prepare(debit, day, -units, &debit_at) <= 0)
        goto done;
    if (credit && day_prepare(credit, day, units, &credit_at) <= 0)
        goto done;
    if (ln->key && d->keys && !(key = PyUnicode_DecodeUTF8(ln->key, ln->key_n, "strict")))
        goto done;
    /* books.OffDay: a v2 line dated other than the local day of its ts is listed apart. */
    int off = 0;
    if (d->offday && ln->date) {
        day_t local;
        if (!local_day_of(ln->ts, &local))
            goto done;
        off = local != day;
    }
    /* Apply: money leaves `account` (a withdrawal, transfer or reversal) and arrives in `to`
     * (a transfer or reversal) or `account` (a deposit), each change dated `day`. */
    code = FAILED;
    if (debit) {
        debit->units -= units;
        debit->scale = debit->scale > scale ? debit->scale : scale;
        debit->dirty = 1;
        day_add(debit, debit_at, day, -units, scale);
    }
    if (ln->kind == DEPOSITED || ln->kind == TRANSFERRED || ln->kind == REVERSED) {
        if (credit) {
            credit->units = credited;
            credit->scale = credit->scale > scale ? credit->scale : scale;
            credit->dirty = 1;
            day_add(credit, credit_at, day, units, scale);
        } else if (ln->kind != REVERSED) { /* money opens the account it arrives in */
            Book *made;
            if (!(value = amount_of(ln->amount, ln->amount_n)) ||
                book_new(ln->kind == DEPOSITED ? account : to, value, &made) < 0 || !made ||
                day_prepare(made, day, units, &credit_at) <= 0)
                goto done;
            day_add(made, credit_at, day, units, scale);
        }
        if (ln->kind == REVERSED && PyDict_SetItem(d->reversed_by, target, by) < 0)
            goto done;
    } else if (ln->kind == OPENED) {
        /* a reopening has a status entry (domain.evolve); a first open its date in opened_on:
         * it says from when the account exists by date and blocks nothing */
        PyObject *first = acct || !d->opened_on ? NULL : day_str(day);
        if (PyDict_SetItem(d->opened, account, Py_True) < 0 || PyDict_SetDefault(books.balances, account, zero) == NULL ||
            (acct ? status_append(account, day, ln->seq, 1) < 0
                  : d->opened_on && (!first || PyDict_SetItem(d->opened_on, account, first) < 0)))
            goto done;
        if (acct) { /* a closed account, reopened on `day` (books.reopened_on) */
            acct->open = 1;
            acct->reopened = day;
        } else if (book_of(account, &acct) < 0) {
            goto done;
        }
    } else if (ln->kind == CLOSED) {
        if (PyDict_SetItem(d->opened, account, Py_False) < 0 || status_append(account, day, ln->seq, 0) < 0)
            goto done;
        acct->open = 0;
        acct->closed = day;
        acct->reopened = NO_DAY; /* closed now: no reopening after its latest close */
    }
    Py_CLEAR(value);
    if (key) {
        if (!(value = PyLong_FromLongLong(ln->seq)) || PyDict_SetItem(d->keys, key, value) < 0)
            goto done;
        Py_CLEAR(value);
    }
    if (off) {
        static const char *const KIND[] = {"deposited",      "withdrawn",      "transferred",
                                           "account_opened", "account_closed", "reversed"};
        if (!(value = Py_BuildValue("(Ls#sOOz#)", ln->seq, ln->date, (Py_ssize_t)10, KIND[ln->kind],
                                    account ? account : Py_None, to ? to : Py_None, ln->amount, ln->amount_n)) ||
            PyList_Append(d->offday, value) < 0)
            goto done;
    }
    code = APPLIED;
done:
    if (code == HANDOFF || code == BOUND) {
        if (PyErr_Occurred()) { /* only a decoding error may stand for "not valid" */
            if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
                PyErr_Clear();
            else
                code = FAILED;
        }
    } else if (code == FAILED && !PyErr_Occurred()) {
        PyErr_SetString(PyExc_SystemError, "fold: the books and the dicts disagree");
    }
    Py_XDECREF(account);
    Py_XDECREF(to);
    Py_XDECREF(key);
    Py_XDECREF(value);
    Py_XDECREF(target);
    Py_XDECREF(by);
    return code;
}

/* ---- a reversal against its target (for verify) ---------------------------------------------
 *
 * verify (filelog.FileLog.verify) checks, after the fold, that each reversal undoes its target
 * (domain.reversal_matches): the target is a deposit, withdrawal or transfer, the reversal's
 * (account, to) is domain.reversal_of(target) and the amounts are equal. Finding a target in
 * Python (counting lines, decoding them) costs more than folding a line, so the fold does it
 * for the reversals it applies: it remembers where every SAMPLE-th line starts, reads the
 * target's line from the file with one pread, and parses and hash-checks it as any line. A
 * reversal it finds matching is vouched for; every other one (no sample, an unusual line, a
 * mismatch) is left to verify, which then says what is wrong exactly as before. */

#define SAMPLE 16
#define LOOK (64 << 10) /* bytes read from a sample: SAMPLE lines of up to 4 KiB */

static char look[LOOK];

/* Remember that line i * SAMPLE + 1 starts at `at`; -1 (no memory) with an error set. */
static int sample_put(Py_ssize_t i, long long at) {
    if (i >= books.samples_cap) {
        Py_ssize_t cap = books.samples_cap ? books.samples_cap : 4096;
        while (cap <= i)
            cap *= 2;
        long long *grown = PyMem_Realloc(books.samples, (size_t)cap * sizeof(long long));
        if (!grown) {
            PyErr_NoMemory();
            return -1;
        }
        books.samples = grown;
        books.samples_cap = cap;
    }
    while (books.samples_n <= i)
        books.samples[books.samples_n++] = -1;
    books.samples[i] = at;
    return 0;
}

static int same_text(const char *a, Py_ssize_t an, const char *b, Py_ssize_t bn) {
    return a && b ? an == bn && memcmp(a, b, (size_t)an) == 0 : !a && !b;
}

/* 1 if the reversal `rev` (applied in this fold) undoes its target, read from `fd`, and is not
 * dated before it (reversal_matches compares their events.date_of); 0 if that is not known here. */
static int target_matches(int fd, const Line *rev) {
    long long t = rev->target;
    Py_ssize_t i = (Py_ssize_t)((t - 1) / SAMPLE);
    if (i >= books.samples_n || books.samples[i] < 0)
        return 0;
    ssize_t got = pread(fd, look, LOOK, (off_t)books.samples[i]);
    if (got <= 0)
        return 0;
    const char *p = look, *end = look + got, *nl;
    for (long long skip = (t - 1) % SAMPLE;; skip--) {
        if (!(nl = memchr(p, '\n', (size_t)(end - p))))
            return 0;
        if (!skip)
            break;
        p = nl + 1;
    }
    static Line target; /* static: a Line holds 5 KiB of buffers */
    char digest[64];
    if (!parse_line(p, nl, &target) || target.seq != t || !line_day(&target) || rev->day < target.day)
        return 0;
    sha256_hex_plus((const uint8_t *)p, (size_t)(target.body_end - p), '}', digest);
    if (memcmp(digest, target.hash, 64) != 0)
        return 0;
    const char *account = NULL, *to = NULL; /* domain.reversal_of(target) */
    Py_ssize_t account_n = 0, to_n = 0;
    switch (target.kind) {
    case DEPOSITED:
        account = target.account, account_n = target.account_n;
        break;
    case WITHDRAWN:
        to = target.account, to_n = target.account_n;
        break;
    case TRANSFERRED:
        account = target.to, account_n = target.to_n;
        to = target.account, to_n = target.account_n;
        break;
    default:
        return 0;
    }
    units_t mine, theirs;
    int scale;
    return same_text(account, account_n, rev->account, rev->account_n) && same_text(to, to_n, rev->to, rev->to_n) &&
           amount_valid(target.amount, target.amount_n) && parse_units(rev->amount, rev->amount_n, &mine, &scale) &&
           parse_units(target.amount, target.amount_n, &theirs, &scale) && mine == theirs;
}

/* Append the number n to `list`; -1 on an error. */
static int append_int(PyObject *list, Py_ssize_t n) {
    PyObject *item = PyLong_FromSsize_t(n);
    int r = item ? PyList_Append(list, item) : -1;
    Py_XDECREF(item);
    return r;
}

static PyObject *fold(PyObject *self, PyObject *args) {
    Py_buffer buf;
    Py_ssize_t pos;
    long long seq, stop_seq;
    const char *head_in, *ts_in, *stop_ts;
    Py_ssize_t head_n, ts_n, stop_ts_n;
    PyObject *balances, *opened, *keys, *token, *starts = Py_None, *reversed_by = Py_None, *reversals = Py_None;
    PyObject *days = NULL, *last_day = NULL, *status = NULL;
    const char *only = NULL, *through = NULL;
    Py_ssize_t only_n = 0, offset = 0, through_n = 0;
    int fd = -1, partial = 0;
    PyObject *opened_on = NULL, *offday = Py_None;
    if (!PyArg_ParseTuple(args, "y*nLs#s#O!O!OLz#O|Oz#OOinO!O!O!z#pO!O", &buf, &pos, &seq, &head_in, &head_n, &ts_in,
                          &ts_n, &PyDict_Type, &balances, &PyDict_Type, &opened, &keys, &stop_seq, &stop_ts,
                          &stop_ts_n, &token, &starts, &only, &only_n, &reversed_by, &reversals, &fd, &offset,
                          &PyDict_Type, &days, &PyDict_Type, &last_day, &PyDict_Type, &status, &through, &through_n,
                          &partial, &PyDict_Type, &opened_on, &offday))
        return NULL;
    days_partial = partial;
    const char *wrong = NULL;
    if (!days || !last_day || !status)
        wrong = "fold: days, last_day and status are required";
    else if (keys != Py_None && !PyDict_Check(keys))
        wrong = "fold: keys must be a dict or None";
    else if (starts != Py_None && !PyList_Check(starts))
        wrong = "fold: starts must be a list or None";
    else if (reversed_by != Py_None && !PyDict_Check(reversed_by))
        wrong = "fold: reversed_by must be a dict or None";
    else if (reversals != Py_None && !PyList_Check(reversals))
        wrong = "fold: reversals must be a list or None";
    else if (offday != Py_None && !PyList_Check(offday))
        wrong = "fold: offday must be a list or None";
    if (wrong) {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_TypeError, wrong);
        return NULL;
    }
    if (head_n != 64 || ts_n > 27 || pos < 0 || pos > buf.len) {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_ValueError, "fold: bad head, ts or pos");
        return NULL;
    }
    if (books_begin(token, balances, opened, days, last_day, status) < 0) {
        PyBuffer_Release(&buf);
        return NULL;
    }
    Dicts d = {opened, keys == Py_None ? NULL : keys, reversed_by == Py_None ? NULL : reversed_by, opened_on,
              offday == Py_None ? NULL : offday, NO_DAY};
    /* A closed period ends on a real date, or (reopened from 0001-01-01) on a text before every
     * date, which closes nothing; any other text is left to the Python rules, for every line. */
    if (through && !(through_n == 10 && day_of_text(through, &d.through)))
        d.through = cmp_text(through, through_n, "0001-01-01", 10) < 0 ? NO_DAY : INT32_MAX;
    int match = reversals != Py_None && fd >= 0; /* match reversals with their targets here */
    char head[64], ts[27];
    Py_ssize_t tsn = ts_n;
    memcpy(head, head_in, 64);
    memcpy(ts, ts_in, (size_t)tsn);
    const char *data = buf.buf, *end = data + buf.len;
    Py_ssize_t line_start = -1;
    int code = DONE;
    while (data + pos < end) {
        const char *p = data + pos;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            code = HANDOFF;
            break;
        }
        /* The line at pos is line seq + 1, or the fold ends at it (Python names its problem). */
        if (match && seq % SAMPLE == 0 && sample_put((Py_ssize_t)(seq / SAMPLE), (long long)(offset + pos)) < 0) {
            PyBuffer_Release(&buf);
            return NULL;
        }
        Line ln;
        code = fold_line(p, nl, seq, head, ts, tsn, stop_ts, stop_ts_n, &d, &ln);
        if (code == FAILED) {
            PyBuffer_Release(&buf);
            return NULL;
        }
        if (code != APPLIED)
            break;
        code = DONE;
        if ((starts != Py_None && (!only || covers(only, only_n, ln.account, ln.account_n) ||
                                   covers(only, only_n, ln.to, ln.to_n)) &&
             append_int(starts, pos) < 0) ||
            (ln.kind == REVERSED && reversals != Py_None && !(match && target_matches(fd, &ln)) &&
             append_int(reversals, pos) < 0)) {
            PyBuffer_Release(&buf);
            return NULL;
        }
        seq = ln.seq;
        memcpy(head, ln.hash, 64);
        memcpy(ts, ln.ts, 27);
        tsn = 27;
        line_start = pos;
        pos = (nl - data) + 1;
        if (seq == stop_seq) {
            code = BOUND;
            break;
        }
    }
    PyBuffer_Release(&buf);
    return Py_BuildValue("(inLs#s#n)", code, pos, seq, head, (Py_ssize_t)64, ts, tsn, line_start);
}

/* ---- sealing (batch import) ---------------------------------------------------------------- */

typedef struct {
    char *p;
    size_t n, cap;
} Buf;

static void put(Buf *b, const char *s, size_t n) {
    if (b->n <= b->cap && n <= b->cap - b->n)
        memcpy(b->p + b->n, s, n);
    b->n = b->n <= b->cap && n <= b->cap - b->n ? b->n + n : b->cap + 1; /* past cap: the caller sees it */
}
#define PUT(b, s) put((b), (s), sizeof(s) - 1)

/* A valid memo or key as json.dumps writes it: only `"` and `\\` are escaped (a valid text has no
 * control characters, and non-ASCII stays UTF-8). */
static void put_text(Buf *b, const char *s, size_t n) {
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') {
            put(b, s + start, i - start);
            put(b, "\\", 1);
            start = i;
        }
    }
    put(b, s + start, n - start);
}

PyDoc_STRVAR(seal_move_doc,
"seal_move(type, seq, id, ts, prev, account, to, amount, memo, key, date) -> (line, hash) | None\n\n"
"codec.movement_line() in C: the sealed (v2) log line of a deposit, withdrawal or transfer whose\n"
"values are valid (a quote or backslash in a memo or key is escaped as json.dumps does). None\n"
"when the line would be too long; the caller then uses movement_line().");

static PyObject *seal_move(PyObject *self, PyObject *args) {
    const char *type, *id, *ts, *prev, *account, *to, *amount, *memo, *key, *date;
    Py_ssize_t type_n, id_n, ts_n, prev_n, account_n, to_n, amount_n, memo_n, key_n, date_n;
    long long seq;
    if (!PyArg_ParseTuple(args, "s#Ls#s#s#s#z#s#z#z#s#", &type, &type_n, &seq, &id, &id_n, &ts, &ts_n, &prev,
                          &prev_n, &account, &account_n, &to, &to_n, &amount, &amount_n, &memo, &memo_n, &key,
                          &key_n, &date, &date_n))
        return NULL;
    char space[8192];
    Buf b = {space, 0, sizeof(space)};
    char number[24];
    int number_n = snprintf(number, sizeof(number), "%lld", seq);
    PUT(&b, "{\"account\":\"");
    put(&b, account, (size_t)account_n);
    PUT(&b, "\",\"amount\":\"");
    put(&b, amount, (size_t)amount_n);
    PUT(&b, "\",\"date\":\"");
    put(&b, date, (size_t)date_n);
    PUT(&b, "\",\"id\":\"");
    put(&b, id, (size_t)id_n);
    PUT(&b, "\"");
    if (key) {
        PUT(&b, ",\"key\":\"");
        put_text(&b, key, (size_t)key_n);
        PUT(&b, "\"");
    }
    if (memo) {
        PUT(&b, ",\"memo\":\"");
        put_text(&b, memo, (size_t)memo_n);
        PUT(&b, "\"");
    }
    PUT(&b, ",\"prev\":\"");
    put(&b, prev, (size_t)prev_n);
    PUT(&b, "\",\"seq\":");
    put(&b, number, (size_t)number_n);
    if (to) {
        PUT(&b, ",\"to\":\"");
        put(&b, to, (size_t)to_n);
        PUT(&b, "\"");
    }
    PUT(&b, ",\"ts\":\"");
    put(&b, ts, (size_t)ts_n);
    PUT(&b, "\",\"type\":\"");
    put(&b, type, (size_t)type_n);
    PUT(&b, "\",\"v\":2");
    size_t body_n = b.n;
    char digest[64];
    PUT(&b, ",\"hash\":\"");
    put(&b, "0000000000000000000000000000000000000000000000000000000000000000", 64);
    PUT(&b, "\"}\n");
    if (b.n > b.cap)
        Py_RETURN_NONE;
    sha256_hex_plus((const uint8_t *)b.p, body_n, '}', digest);
    memcpy(b.p + b.n - 67, digest, 64);
    return Py_BuildValue("(y#s#)", b.p, (Py_ssize_t)b.n, digest, (Py_ssize_t)64);
}

PyDoc_STRVAR(amount_doc,
"amount(text) -> Decimal | None: the amount `text` as a Decimal if it is a valid one (the same\n"
"rule as money.amount_problem, with a cache), else None.");

static PyObject *amount_py(PyObject *self, PyObject *arg) {
    Py_ssize_t n;
    const char *p = PyUnicode_AsUTF8AndSize(arg, &n);
    if (!p)
        return NULL;
    PyObject *value = amount_of(p, n);
    if (!value && !PyErr_Occurred())
        Py_RETURN_NONE;
    return value;
}

PyDoc_STRVAR(sync_doc,
"sync(token, names=None, days=True): write the balances and days the fold named by `token` changed\n"
"back to its dicts: all of them, or those of the accounts in the tuple `names` (None items are\n"
"skipped), which the extension then reloads on next use (Python is about to change them). With\n"
"days=False (and no names) the changes per day stay here: only the latest days are written.");

static PyObject *sync_py(PyObject *self, PyObject *args) {
    PyObject *token, *names = Py_None;
    int days = 1;
    if (!PyArg_ParseTuple(args, "O|Op", &token, &names, &days))
        return NULL;
    if (names != Py_None && !PyTuple_Check(names)) {
        PyErr_SetString(PyExc_TypeError, "sync: names must be a tuple or None");
        return NULL;
    }
    if (token != books.token) /* not the fold the books hold: nothing of it is here */
        Py_RETURN_NONE;
    write_days = days || names != Py_None;
    int failed = books_sync(names) < 0;
    write_days = 1;
    if (failed)
        return NULL;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(sha256_hex_doc, "sha256_hex(data) -> str: SHA-256 of data as hex (for tests of this module).");

static PyObject *sha256_hex_py(PyObject *self, PyObject *arg) {
    Py_buffer buf;
    if (PyObject_GetBuffer(arg, &buf, PyBUF_SIMPLE) < 0)
        return NULL;
    if (buf.len == 0) {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_ValueError, "empty data");
        return NULL;
    }
    char out[64];
    const uint8_t *p = buf.buf;
    sha256_hex_plus(p, (size_t)buf.len - 1, p[buf.len - 1], out);
    PyBuffer_Release(&buf);
    return PyUnicode_FromStringAndSize(out, 64);
}

static PyObject *clear_caches(PyObject *self, PyObject *unused) {
    cache_clear(&accounts);
    cache_clear(&amounts);
    books_clear();
    for (size_t i = 0; i < sizeof day_texts / sizeof day_texts[0]; i++)
        Py_CLEAR(day_texts[i].text);
    Py_RETURN_NONE;
}

static PyObject *use_portable_sha(PyObject *self, PyObject *flag) {
    int portable = PyObject_IsTrue(flag);
    if (portable < 0)
        return NULL;
    sha256_blocks = sha256_blocks_c;
#ifdef HAVE_X86
    if (!portable && cpu_has_sha())
        sha256_blocks = sha256_blocks_ni;
#endif
    return PyBool_FromLong(sha256_blocks != sha256_blocks_c);
}

#include "_native_export.c" /* export_begin, export_lines, export_state, export_finish */

static PyMethodDef methods[] = {
    {"fold", fold, METH_VARARGS, fold_doc},
    {"sync", sync_py, METH_VARARGS, sync_doc},
    {"sha256_hex", sha256_hex_py, METH_O, sha256_hex_doc},
    {"seal_move", seal_move, METH_VARARGS, seal_move_doc},
    {"amount", amount_py, METH_O, amount_doc},
    {"text_ok", text_ok_py, METH_VARARGS, text_ok_doc},
    {"clear_caches", clear_caches, METH_NOARGS, "Forget the validated accounts and amounts."},
    {"export_begin", export_begin, METH_VARARGS, export_begin_doc},
    {"export_lines", export_lines, METH_VARARGS, export_lines_doc},
    {"export_state", export_state, METH_NOARGS, export_state_doc},
    {"export_finish", export_finish, METH_NOARGS, export_finish_doc},
    {"use_portable_sha", use_portable_sha, METH_O,
     "use_portable_sha(flag) -> bool: choose the portable SHA-256 (True) or the CPU's if it has one; "
     "returns whether the CPU's is in use."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "ledger_cli._native", NULL, -1, methods};

static PyObject *attr_of(const char *module_name, const char *name) {
    PyObject *mod = PyImport_ImportModule(module_name);
    if (!mod)
        return NULL;
    PyObject *value = PyObject_GetAttrString(mod, name);
    Py_DECREF(mod);
    return value;
}

PyMODINIT_FUNC PyInit__native(void) {
    for (int c = 0; c < 256; c++)
        HEX[c] = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    if (!(decimal_type = attr_of("decimal", "Decimal")) ||
        !(account_problem = attr_of("ledger_cli.values", "account_problem")) ||
        !(memo_problem = attr_of("ledger_cli.values", "memo_problem")) ||
        !(key_problem = attr_of("ledger_cli.values", "key_problem")) ||
        !(zero = attr_of("ledger_cli.domain", "ZERO")) || !(fixed_format = PyUnicode_InternFromString("f")))
        return NULL;
#ifdef HAVE_X86
    if (cpu_has_sha())
        sha256_blocks = sha256_blocks_ni;
#endif
    PyObject *m = PyModule_Create(&module);
    /* accel.API: a stale build (an editable install after a pull) is not used, never called
     * with arguments it does not know. Bump it with every change of these functions. */
    if (m && PyModule_AddIntConstant(m, "API", 8) < 0)
        Py_CLEAR(m);
    return m;
}
