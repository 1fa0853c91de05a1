/* ledger_cli._native, part two (included by _native.c): `ledger export`'s hot loop.
 *
 * export_lines() turns verified log lines (a walk's `lines=True` pieces) into the text the
 * Python writers make of them, byte for byte: journal.JournalWriter (hledger), beancount.
 * BeancountWriter and exports.CsvWriter, whose running balances it keeps here as an int at
 * the scale Decimal would keep (the most fraction digits of what was added). It stops, and says why, at the next
 * off-day entry to skip, before a line that an earlier entry must precede, and at anything it
 * does not make exactly as Python does (a value past its limits, a memo ending in a space it
 * does not know): Python then takes over from export_state(). tests/test_native_export.py
 * holds the two to the same bytes. */

enum { FMT_HLEDGER = 0, FMT_BEANCOUNT = 1, FMT_CSV = 2 };
enum { EX_END = 0, EX_SKIP = 1, EX_STOP = 2, EX_PYTHON = 3 };
enum { PERIOD_CLOSED = 10, PERIOD_REOPENED = 11 };

typedef struct {
    char *key, *bean; /* the account's UTF-8 (NULL: a free slot) and its Beancount name (or NULL) */
    Py_ssize_t key_n, bean_n;
    uint64_t h;
    units_t units;
    int scale;
    char own, opened, touched;
} Acct;

static struct {
    int fmt, ready;
    Acct *slots;
    size_t mask, used;
    char *income, *expense, *currency;
    Py_ssize_t income_n, expense_n, currency_n;
    long long *targets, *finals; /* sorted: seqs reversed by an entry shown; closes that end an account */
    Py_ssize_t targets_n, finals_n;
    LocalMemo memo;             /* local_day_in's, apart from the fold's (the walk folds between calls) */
    day_t day, latest, as_of;   /* beancount's current day; the latest date in log order; --as-of */
    char *out;
    size_t n, cap;
    int oom;
} ex;

static inline void ex_put(const char *s, size_t n) {
    if (__builtin_expect(ex.n + n > ex.cap, 0)) {
        size_t cap = ex.cap ? ex.cap : 1 << 16;
        while (cap < ex.n + n)
            cap *= 2;
        char *grown = PyMem_RawRealloc(ex.out, cap);
        if (!grown) {
            ex.oom = 1;
            return;
        }
        ex.out = grown, ex.cap = cap;
    }
    memcpy(ex.out + ex.n, s, n);
    ex.n += n;
}
#define EX(s) ex_put(("" s), sizeof(s) - 1) /* a literal only ("" s fails to compile otherwise) */

static void ex_int(long long v) { /* a seq or a target: positive */
    char text[24];
    int n = 24;
    unsigned long long w = v < 0 ? 0 : (unsigned long long)v;
    do {
        text[--n] = (char)('0' + (int)(w % 10));
        w /= 10;
    } while (w);
    ex_put(text + n, (size_t)(24 - n));
}

/* A text that needs no escape (an id, a ts, a hash) in double quotes. */
static void ex_plain_quoted(const char *s, Py_ssize_t n) {
    EX("\"");
    ex_put(s, (size_t)n);
    EX("\"");
}

static void ex_day(day_t day) {
    char text[10];
    day_text(day, text);
    ex_put(text, 10);
}

/* 10^k as units_t (k at most 38: an amount has at most 19 + 18 digits, the 28-digit check 10 + 18). */
static units_t pow10_units(int k) {
    units_t p = 1;
    while (k-- > 0)
        p *= 10;
    return p;
}

static void ex_units(units_t units, int scale) {
    char text[80];
    ex_put(text, (size_t)units_text(units, scale, text));
}

/* a (at scale sa) + b (at scale sb) at the larger scale, into *sum and *scale; 0 on overflow. */
static int add_scaled(units_t a, int sa, units_t b, int sb, units_t *sum, int *scale) {
    int s = sa > sb ? sa : sb;
    units_t x, y;
    if (__builtin_mul_overflow(a, pow10_units(s - sa), &x) || __builtin_mul_overflow(b, pow10_units(s - sb), &y) ||
        __builtin_add_overflow(x, y, sum))
        return 0;
    *scale = s;
    return 1;
}

/* beancount.quoted: in double quotes, `\` and `"` escaped. */
static void ex_quoted(const char *s, Py_ssize_t n) {
    EX("\"");
    if (!memchr(s, '"', (size_t)n) && !memchr(s, '\\', (size_t)n)) {
        ex_put(s, (size_t)n);
        EX("\"");
        return;
    }
    Py_ssize_t start = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') {
            ex_put(s + start, (size_t)(i - start));
            EX("\\");
            start = i;
        }
    }
    ex_put(s + start, (size_t)(n - start));
    EX("\"");
}

/* journal.tag_value: `%`, `,` and `;` percent-encoded, and a leading or trailing space. */
static void ex_tag(const char *s, Py_ssize_t n) {
    size_t first = ex.n;
    for (Py_ssize_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '%')
            EX("%25");
        else if (ch == ',')
            EX("%2C");
        else if (ch == ';')
            EX("%3B");
        else
            ex_put(&ch, 1);
    }
    if (ex.oom || ex.n == first)
        return;
    if (ex.out[first] == ' ') {
        ex_put("  ", 2); /* room for "%20" in place of the space */
        if (ex.oom)
            return;
        memmove(ex.out + first + 3, ex.out + first + 1, ex.n - 2 - first - 1);
        memcpy(ex.out + first, "%20", 3);
    }
    if (ex.out[ex.n - 1] == ' ') {
        ex.n--;
        EX("%20");
    }
}

/* Whether code point c is whitespace to str.isspace() (what str.rstrip() removes). */
static int py_space(Py_UCS4 c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
           c == 0x3000;
}

/* str.rstrip() of the output written since `from` (valid UTF-8). */
static void ex_rstrip(size_t from) {
    while (ex.n > from) {
        size_t at = ex.n - 1;
        while (at > from && ((uint8_t)ex.out[at] & 0xC0) == 0x80)
            at--;
        const uint8_t *p = (const uint8_t *)ex.out + at;
        size_t len = ex.n - at;
        Py_UCS4 c = len == 1   ? p[0]
                    : len == 2 ? (Py_UCS4)(p[0] & 0x1F) << 6 | (p[1] & 0x3F)
                    : len == 3 ? (Py_UCS4)(p[0] & 0x0F) << 12 | (Py_UCS4)(p[1] & 0x3F) << 6 | (p[2] & 0x3F)
                               : (Py_UCS4)(p[0] & 0x07) << 18 | (Py_UCS4)(p[1] & 0x3F) << 12 |
                                     (Py_UCS4)(p[2] & 0x3F) << 6 | (p[3] & 0x3F);
        if (!py_space(c))
            return;
        ex.n = at;
    }
}

static void ex_clear(void) {
    for (size_t i = 0; ex.slots && i <= ex.mask; i++) {
        PyMem_RawFree(ex.slots[i].key);
        PyMem_RawFree(ex.slots[i].bean);
    }
    PyMem_RawFree(ex.slots);
    PyMem_RawFree(ex.income), PyMem_RawFree(ex.expense), PyMem_RawFree(ex.currency);
    PyMem_RawFree(ex.targets);
    PyMem_RawFree(ex.finals);
    PyMem_RawFree(ex.out);
    memset(&ex, 0, sizeof ex);
}

static char *ex_copy(const char *s, Py_ssize_t n) {
    char *copy = PyMem_RawMalloc((size_t)n + 1);
    if (copy) {
        memcpy(copy, s, (size_t)n);
        copy[n] = 0;
    }
    return copy;
}

/* The account p[0:n], added (not one of the books', no Beancount name) if it is new; NULL
 * when out of memory. */
static Acct *ex_acct(const char *p, Py_ssize_t n) {
    uint64_t h = fnv1a(p, n);
    size_t i = (size_t)h & ex.mask;
    for (;; i = (i + 1) & ex.mask) {
        Acct *a = &ex.slots[i];
        if (!a->key)
            break;
        if (a->h == h && a->key_n == n && memcmp(a->key, p, (size_t)n) == 0)
            return a;
    }
    if ((ex.used + 1) * 2 > ex.mask + 1) {
        size_t size = (ex.mask + 1) * 2;
        Acct *slots = PyMem_RawCalloc(size, sizeof(Acct)), *old = ex.slots;
        if (!slots)
            return NULL;
        for (size_t k = 0; k <= ex.mask; k++) {
            if (!old[k].key)
                continue;
            size_t j = (size_t)old[k].h & (size - 1);
            while (slots[j].key)
                j = (j + 1) & (size - 1);
            slots[j] = old[k];
        }
        PyMem_RawFree(old);
        ex.slots = slots, ex.mask = size - 1;
        return ex_acct(p, n);
    }
    Acct *a = &ex.slots[i];
    if (!(a->key = ex_copy(p, n)))
        return NULL;
    a->key_n = n, a->h = h;
    ex.used++;
    return a;
}

static int utf8_of(PyObject *text, const char **p, Py_ssize_t *n) {
    *p = PyUnicode_Check(text) ? PyUnicode_AsUTF8AndSize(text, n) : NULL;
    if (!*p && !PyErr_Occurred())
        PyErr_SetString(PyExc_TypeError, "export_begin: names must be str");
    return *p != NULL;
}

static int cmp_seq(const void *x, const void *y) {
    long long a = *(const long long *)x, b = *(const long long *)y;
    return (a > b) - (a < b);
}

/* The ints of an iterable as a sorted array (in_seqs: no int object made per line); 0 on an error. */
static int seqs_of(PyObject *iterable, long long **out, Py_ssize_t *n) {
    PyObject *list = PySequence_List(iterable);
    if (!list)
        return 0;
    Py_ssize_t size = PyList_GET_SIZE(list);
    long long *seqs = PyMem_RawMalloc(((size_t)size + 1) * sizeof(long long));
    if (!seqs) {
        Py_DECREF(list);
        PyErr_NoMemory();
        return 0;
    }
    for (Py_ssize_t i = 0; i < size; i++) {
        seqs[i] = PyLong_AsLongLong(PyList_GET_ITEM(list, i));
        if (seqs[i] == -1 && PyErr_Occurred()) {
            PyMem_RawFree(seqs);
            Py_DECREF(list);
            return 0;
        }
    }
    Py_DECREF(list);
    qsort(seqs, (size_t)size, sizeof(long long), cmp_seq);
    *out = seqs, *n = size;
    return 1;
}

static int in_seqs(const long long *seqs, Py_ssize_t n, long long seq) {
    return bsearch(&seq, seqs, (size_t)n, sizeof(long long), cmp_seq) != NULL;
}

PyDoc_STRVAR(export_begin_doc,
"export_begin(fmt, own, counters, currency, targets, finals, as_of) -> None\n\n"
"Start an export: fmt 0 hledger, 1 Beancount, 2 CSV; `own` maps each of the books' accounts and\n"
"`counters` the income and expense accounts (in that order) to their Beancount names (or None);\n"
"`targets` and `finals` are sets of seqs (reversed by an entry shown; closes that end an account);\n"
"as_of is the last date shown (or None).");

static PyObject *export_begin(PyObject *self, PyObject *args) {
    int fmt;
    PyObject *own, *counters, *targets, *finals, *as_of;
    const char *currency;
    Py_ssize_t currency_n;
    if (!PyArg_ParseTuple(args, "iO!O!s#OOO", &fmt, &PyDict_Type, &own, &PyDict_Type, &counters, &currency,
                          &currency_n, &targets, &finals, &as_of))
        return NULL;
    ex_clear();
    ex.fmt = fmt;
    ex.day = ex.latest = NO_DAY;
    ex.as_of = INT32_MAX;
    if (as_of != Py_None && !day_of_str(as_of, &ex.as_of)) {
        PyErr_SetString(PyExc_ValueError, "export_begin: as_of must be a date");
        return NULL;
    }
    size_t size = 64;
    while (size < (size_t)(PyDict_GET_SIZE(own) + 2) * 2)
        size *= 2;
    if (!(ex.slots = PyMem_RawCalloc(size, sizeof(Acct))) || !(ex.currency = ex_copy(currency, currency_n)))
        return PyErr_NoMemory();
    ex.mask = size - 1, ex.currency_n = currency_n;
    if (!seqs_of(targets, &ex.targets, &ex.targets_n) || !seqs_of(finals, &ex.finals, &ex.finals_n))
        return NULL;
    for (int pass = 0; pass < 2; pass++) {
        PyObject *dict = pass ? counters : own, *key, *value;
        Py_ssize_t at = 0, k = 0;
        while (PyDict_Next(dict, &at, &key, &value)) {
            const char *p, *b = NULL;
            Py_ssize_t n, bn = 0;
            if (!utf8_of(key, &p, &n) || (value != Py_None && !utf8_of(value, &b, &bn)))
                return NULL;
            Acct *a = ex_acct(p, n);
            if (!a || (b && !(a->bean = ex_copy(b, bn))))
                return PyErr_NoMemory();
            a->bean_n = bn;
            a->own = !pass;
            if (pass) { /* the income account first, then the expense account */
                char **name = k ? &ex.expense : &ex.income;
                if (!(*name = ex_copy(p, n)))
                    return PyErr_NoMemory();
                *(k ? &ex.expense_n : &ex.income_n) = n;
            }
            k++;
        }
    }
    if (!ex.income || !ex.expense) {
        PyErr_SetString(PyExc_ValueError, "export_begin: counters must hold two accounts");
        return NULL;
    }
    ex.ready = 1;
    Py_RETURN_NONE;
}

/* A period event's line (`{"date":…,"id":…,("key":…,)?("memo":…,)?"prev":…,"seq":…,"ts":…,
 * "type":"period_closed"|"period_reopened","v":2,"hash":…}`) into ln; 0 if it is not one. */
static int parse_period(const char *p, const char *end, Line *ln) {
    Cur c = {p, end};
    ln->account = ln->amount = ln->key = ln->memo = ln->to = NULL;
    ln->account_n = ln->amount_n = ln->key_n = ln->memo_n = ln->to_n = 0;
    ln->target = 0;
    if (!LIT(&c, "{\"date\":\"") || end - c.p < 11 || c.p[10] != '"')
        return 0;
    ln->date = c.p;
    c.p += 11;
    if (!line_middle(&c, ln))
        return 0;
    if (!LIT(&c, ",\"ts\":\"") || !str_body(&c, &ln->ts, &ln->ts_n))
        return 0;
    if (LIT(&c, ",\"type\":\"period_closed\""))
        ln->kind = PERIOD_CLOSED, ln->type = "period_closed", ln->type_n = 13;
    else if (LIT(&c, ",\"type\":\"period_reopened\""))
        ln->kind = PERIOD_REOPENED, ln->type = "period_reopened", ln->type_n = 15;
    else
        return 0;
    if (!LIT(&c, ",\"v\":2,\"hash\":\"") || end - c.p != 66 || c.p[64] != '"' || c.p[65] != '}')
        return 0;
    ln->hash = c.p;
    ln->v = 2;
    return id_ok(ln->id, ln->id_n) && ts_ok(ln->ts, ln->ts_n);
}

typedef struct {
    Acct *acct;
    int negative, scale; /* the posting's sign (of the recorded amount), the amount's scale */
    units_t units;       /* the signed amount */
} Posting;

static const char *const KIND_WORD[] = {"deposit", "withdrawal", "transfer", "open", "close", "reversal"};

static void ex_meta(const Line *ln) {
    EX("  ledger-seq: "), ex_int(ln->seq), EX("\n  ledger-id: "), ex_plain_quoted(ln->id, ln->id_n);
    EX("\n  ledger-ts: "), ex_plain_quoted(ln->ts, ln->ts_n), EX("\n  ledger-hash: "), ex_plain_quoted(ln->hash, 64);
    EX("\n  ledger-prev: "), ex_plain_quoted(ln->prev, 64), EX("\n");
    if (ln->key)
        EX("  ledger-key: "), ex_quoted(ln->key, ln->key_n), EX("\n");
    if (ln->target)
        EX("  ledger-reverses: "), ex_int(ln->target), EX("\n");
}

static void ex_memo_meta(const Line *ln) {
    if (ln->memo)
        EX("  ledger-memo: "), ex_quoted(ln->memo, ln->memo_n), EX("\n");
}

static void ex_open(Acct *a, const char *date, const Line *entry) {
    ex_put(date, 10), EX(" open "), ex_put(a->bean, (size_t)a->bean_n), EX(" ");
    ex_put(ex.currency, (size_t)ex.currency_n), EX("\n  name: "), ex_quoted(a->key, a->key_n), EX("\n");
    if (entry) {
        ex_meta(entry);
        ex_memo_meta(entry);
    }
    a->opened = 1;
}

static int cmp_acct(const void *x, const void *y) {
    const Acct *a = *(Acct *const *)x, *b = *(Acct *const *)y;
    return cmp_text(a->key, a->key_n, b->key, b->key_n);
}

/* BeancountWriter._balances: each account touched on the day just done, dated the next day. */
static int ex_balances(void) {
    size_t count = 0;
    for (size_t i = 0; i <= ex.mask; i++)
        count += ex.slots[i].key && ex.slots[i].touched;
    if (!count)
        return 1;
    Acct **touched = PyMem_RawMalloc(count * sizeof(Acct *));
    if (!touched)
        return 0;
    size_t k = 0;
    for (size_t i = 0; i <= ex.mask; i++)
        if (ex.slots[i].key && ex.slots[i].touched)
            touched[k++] = &ex.slots[i];
    qsort(touched, count, sizeof(Acct *), cmp_acct);
    for (k = 0; k < count; k++) {
        Acct *a = touched[k];
        ex_day(ex.day + 1), EX(" balance "), ex_put(a->bean, (size_t)a->bean_n), EX(" ");
        ex_units(a->units, a->scale), EX(" ~ 0 "), ex_put(ex.currency, (size_t)ex.currency_n), EX("\n");
        a->touched = 0;
    }
    PyMem_RawFree(touched);
    return 1;
}


/* Write one parsed line (dated `day`, its text `date`); EX_END, EX_PYTHON (nothing written
 * and nothing changed: Python's to make), or -1 on an error. */
static int ex_entry(const Line *ln, day_t day, const char *date) {
    Posting post[2];
    int np = 0, kind = ln->kind;
    units_t amount = 0;
    int scale = 0;
    if (ln->amount) {
        if (!parse_scaled(ln->amount, ln->amount_n, &amount, &scale))
            return EX_PYTHON;
        if (ex.fmt == FMT_BEANCOUNT && ln->amount_n > 28)
            return EX_PYTHON; /* more digits than Beancount keeps: Python says so */
    }
    const char *source = ln->account, *destination = ln->to;
    Py_ssize_t source_n = ln->account_n, destination_n = ln->to_n;
    if (kind == DEPOSITED)
        destination = source, destination_n = source_n, source = ex.income, source_n = ex.income_n;
    else if (kind == WITHDRAWN)
        destination = ex.expense, destination_n = ex.expense_n;
    else if (kind == REVERSED) {
        if (!source)
            source = ex.expense, source_n = ex.expense_n;
        if (!destination)
            destination = ex.income, destination_n = ex.income_n;
    }
    if (kind == OPENED || kind == CLOSED) {
        if (!(post[0].acct = ex_acct(ln->account, ln->account_n)))
            return -1;
        post[0].negative = 0, post[0].units = 0, post[0].scale = 0;
        np = 1;
    } else if (kind <= REVERSED) {
        /* exports.postings: a deposit's money comes from income (listed second), every
         * other movement's leaves its source first */
        Acct *from = ex_acct(source, source_n), *into = ex_acct(destination, destination_n);
        if (!from || !into)
            return -1;
        int credit_first = kind == DEPOSITED;
        post[credit_first] = (Posting){from, 1, scale, -amount};
        post[!credit_first] = (Posting){into, 0, scale, amount};
        np = 2;
    }
    units_t after[2];
    int after_scale[2];
    for (int i = 0; i < np; i++) {
        Acct *a = post[i].acct;
        units_t base = a->units;
        int base_scale = a->scale;
        if (np == 2 && i == 1 && post[1].acct == post[0].acct)
            base = after[0], base_scale = after_scale[0];
        if (!add_scaled(base, base_scale, post[i].units, post[i].scale, &after[i], &after_scale[i]))
            return EX_PYTHON;
        if (ex.fmt == FMT_BEANCOUNT) { /* the 28-digit check (|balance| >= 10^10), or a name Python lacks too */
            units_t large = pow10_units(10 + after_scale[i]);
            if (after[i] >= large || after[i] <= -large || !a->bean)
                return EX_PYTHON;
        }
    }
    /* Nothing refuses the line from here on: write it and apply its postings. */
    if (ex.fmt == FMT_CSV) {
        int quote = 0;
        for (Py_ssize_t i = 0; i < ln->memo_n && !quote; i++)
            quote = ln->memo[i] == ',' || ln->memo[i] == '"' || ln->memo[i] == '\r' || ln->memo[i] == '\n';
        for (Py_ssize_t i = 0; i < ln->key_n && !quote; i++)
            quote = ln->key[i] == ',' || ln->key[i] == '"' || ln->key[i] == '\r' || ln->key[i] == '\n';
        for (int i = 0; i < np; i++) {
            Acct *a = post[i].acct;
            a->units = after[i], a->scale = after_scale[i];
            ex_put(date, 10), EX(","), ex_int(ln->seq), EX(","), ex_put(ln->ts, (size_t)ln->ts_n), EX(",");
            ex_put(a->key, (size_t)a->key_n), EX(",");
            if (!ln->amount)
                EX("0");
            else
                ex_put("-", post[i].negative), ex_put(ln->amount, (size_t)ln->amount_n);
            EX(","), ex_units(a->units, a->scale), EX(","), ex_put(ln->type, (size_t)ln->type_n), EX(",");
            for (int field = 0; field < 2; field++) {
                const char *s = field ? ln->key : ln->memo;
                Py_ssize_t n = field ? ln->key_n : ln->memo_n;
                int q = 0;
                for (Py_ssize_t k = 0; k < n && quote && !q; k++)
                    q = s[k] == ',' || s[k] == '"' || s[k] == '\r' || s[k] == '\n';
                if (q) { /* csv.writer's QUOTE_MINIMAL: quoted, each quote doubled */
                    EX("\"");
                    for (Py_ssize_t k = 0; k < n; k++)
                        s[k] == '"' ? EX("\"\"") : ex_put(s + k, 1);
                    EX("\"");
                } else if (n) {
                    ex_put(s, (size_t)n);
                }
                if (field)
                    EX("\r\n");
                else
                    EX(",");
            }
        }
        return EX_END;
    }
    if (ex.fmt == FMT_HLEDGER) {
        size_t from = ex.n;
        ex_put(date, 10), EX(" * ("), ex_int(ln->seq), EX(") ");
        const char *word = kind == PERIOD_CLOSED ? "period closed" : kind == PERIOD_REOPENED ? "period reopened"
                                                                                            : KIND_WORD[kind];
        ex_put(word, strlen(word));
        if (ln->memo) {
            EX(" | ");
            for (Py_ssize_t k = 0; k < ln->memo_n; k++)
                ex_put(ln->memo[k] == ';' ? "," : ln->memo + k, 1);
            ex_rstrip(from);
        }
        EX("  ; seq:"), ex_int(ln->seq), EX(", type:"), ex_put(ln->type, (size_t)ln->type_n);
        EX(", id:"), ex_put(ln->id, (size_t)ln->id_n), EX(", ts:"), ex_put(ln->ts, (size_t)ln->ts_n);
        EX("\n    ; hash:"), ex_put(ln->hash, 64), EX(", prev:"), ex_put(ln->prev, 64);
        if (ln->target)
            EX(", reverses:"), ex_int(ln->target);
        EX("\n");
        if (ln->key)
            EX("    ; key:"), ex_tag(ln->key, ln->key_n), EX("\n");
        if (ln->memo)
            EX("    ; memo:"), ex_tag(ln->memo, ln->memo_n), EX("\n");
        for (int i = 0; i < np; i++) {
            Acct *a = post[i].acct;
            EX("    "), ex_put(a->key, (size_t)a->key_n), EX("  ");
            if (!ln->amount)
                EX("0");
            else
                ex_put("-", post[i].negative), ex_put(ln->amount, (size_t)ln->amount_n);
            if (a->own) {
                a->units = after[i], a->scale = after_scale[i];
                EX(" = "), ex_units(a->units, a->scale);
            }
            EX("\n");
        }
        EX("\n");
        return EX_END;
    }
    /* Beancount */
    if (day != ex.day) {
        if (ex.day != NO_DAY && !ex_balances())
            return -1;
        ex.day = day;
    }
    if (kind == OPENED || kind == CLOSED) {
        Acct *a = post[0].acct;
        int final = kind == CLOSED && in_seqs(ex.finals, ex.finals_n, ln->seq);
        if (!a->opened && kind == OPENED) {
            ex_open(a, date, ln);
        } else if (final) {
            ex_put(date, 10), EX(" close "), ex_put(a->bean, (size_t)a->bean_n), EX("\n");
            ex_meta(ln);
        } else {
            ex_put(date, 10), EX(" note "), ex_put(a->bean, (size_t)a->bean_n);
            if (kind == OPENED)
                EX(" \"reopened (seq ");
            else
                EX(" \"closed (seq ");
            ex_int(ln->seq), EX(")\"\n");
            ex_meta(ln);
        }
    } else if (kind == PERIOD_CLOSED || kind == PERIOD_REOPENED) {
        ex_put(date, 10), EX(" custom \"ledger-period\" "), ex_quoted(ln->type, ln->type_n), EX("\n");
        ex_meta(ln);
        ex_memo_meta(ln);
    } else {
        for (int i = 0; i < np; i++)
            if (!post[i].acct->opened)
                ex_open(post[i].acct, date, NULL);
        int linked = ln->target ? 1 : in_seqs(ex.targets, ex.targets_n, ln->seq);
        ex_put(date, 10), EX(" * \""), ex_put(KIND_WORD[kind], strlen(KIND_WORD[kind])), EX("\" ");
        ex_quoted(ln->memo ? ln->memo : "", ln->memo_n);
        if (linked)
            EX(" ^ledger-"), ex_int(ln->target ? ln->target : ln->seq);
        EX("\n");
        ex_meta(ln);
        for (int i = 0; i < np; i++) {
            Acct *a = post[i].acct;
            a->units = after[i], a->scale = after_scale[i];
            if (a->own)
                a->touched = 1;
            EX("  "), ex_put(a->bean, (size_t)a->bean_n), EX("  "), ex_put("-", post[i].negative);
            ex_put(ln->amount, (size_t)ln->amount_n), EX(" "), ex_put(ex.currency, (size_t)ex.currency_n);
            EX("\n");
        }
    }
    EX("\n");
    return EX_END;
}

/* export_lines' loop, which touches no Python object: the code it stops with (pos in *at), -1 out of
 * memory. */
static int ex_loop(const char *base, Py_ssize_t size, Py_ssize_t *at, long long skip_seq, day_t stop_day,
                   long long stop_seq, int early) {
    const char *end = base + size;
    Py_ssize_t pos = *at;
    int code = EX_END;
    Line ln;
    ex.n = 0;
    while (base + pos < end) {
        const char *p = base + pos, *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            nl = end;
        if (!parse_line(p, nl, &ln) && !parse_period(p, nl, &ln)) {
            code = EX_PYTHON;
            break;
        }
        if (ln.seq == skip_seq) {
            code = EX_SKIP;
            break;
        }
        day_t day;
        if (ln.date ? !day_of_text(ln.date, &day) : !local_day_in(&ex.memo, ln.ts, &day)) {
            code = EX_PYTHON;
            break;
        }
        if (!early) {
            day_t local = day;
            if ((ln.date && (!local_day_in(&ex.memo, ln.ts, &local) || local != day)) || day < ex.latest) {
                code = EX_PYTHON; /* not in the plan: Python names the problem */
                break;
            }
        }
        if (day <= ex.as_of && (day > stop_day || (day == stop_day && ln.seq > stop_seq))) {
            code = EX_STOP;
            break;
        }
        if (day <= ex.as_of) {
            char date[10];
            if (ln.date)
                memcpy(date, ln.date, 10);
            else
                day_text(day, date);
            size_t mark = ex.n;
            int r = ex_entry(&ln, day, date);
            if (r < 0)
                return -1;
            if (r == EX_PYTHON) {
                ex.n = mark;
                code = EX_PYTHON;
                break;
            }
        }
        if (!early)
            ex.latest = day;
        pos = nl - base + (nl < end);
    }
    *at = pos;
    return code;
}

PyDoc_STRVAR(export_lines_doc,
"export_lines(block, pos, skip_seq, stop_date, stop_seq, early) -> (text, pos, code)\n\n"
"The export's text of the verified lines of block[pos:] (joined by newlines), as bytes, and\n"
"where it stopped: code 0 at the end; 1 at the line of event `skip_seq` (an off-day entry, read\n"
"before); 2 at the first line after (stop_date, stop_seq), the next off-day entry in date order\n"
"(stop_date None: none); 3 at a line for Python (export_state() then hands it the writer's\n"
"state), or one not dated by its ts or dated before an earlier line (Python names the problem).\n"
"With `early` the block is one off-day entry: it is neither checked against its ts nor a step\n"
"of the log order. Lines dated after --as-of are passed over.");

static PyObject *export_lines(PyObject *self, PyObject *args) {
    Py_buffer buf;
    Py_ssize_t pos;
    long long skip_seq, stop_seq;
    PyObject *stop_date;
    int early;
    if (!PyArg_ParseTuple(args, "y*nLOLp", &buf, &pos, &skip_seq, &stop_date, &stop_seq, &early))
        return NULL;
    PyObject *result = NULL;
    day_t stop_day = INT32_MAX;
    if (!ex.ready) {
        PyErr_SetString(PyExc_RuntimeError, "export_lines: no export_begin");
        goto done;
    }
    if (stop_date != Py_None && !day_of_str(stop_date, &stop_day)) {
        PyErr_SetString(PyExc_ValueError, "export_lines: stop_date must be a date");
        goto done;
    }
    int code;
    code = ex_loop(buf.buf, buf.len, &pos, skip_seq, stop_day, stop_seq, early); /* (with the GIL: one `ex`) */
    if (code < 0 || ex.oom) {
        PyErr_NoMemory();
        goto done;
    }
    result = Py_BuildValue("(y#ni)", ex.out ? ex.out : "", (Py_ssize_t)ex.n, pos, code);
done:
    PyBuffer_Release(&buf);
    return result;
}

PyDoc_STRVAR(export_state_doc,
"export_state() -> (balances, opened, touched, day, latest)\n\n"
"The writer's state for Python to go on from: each account's balance (a Decimal), the accounts\n"
"opened and touched (Beancount), the current day and the latest date in log order ('' if none).");

static PyObject *export_state(PyObject *self, PyObject *unused) {
    PyObject *balances = PyDict_New(), *opened = PySet_New(NULL), *touched = PySet_New(NULL), *result = NULL;
    if (!balances || !opened || !touched)
        goto done;
    for (size_t i = 0; ex.ready && i <= ex.mask; i++) {
        Acct *a = &ex.slots[i];
        if (!a->key)
            continue;
        PyObject *name = PyUnicode_DecodeUTF8(a->key, a->key_n, "strict");
        char text[80];
        PyObject *digits = name ? PyUnicode_FromStringAndSize(text, units_text(a->units, a->scale, text)) : NULL;
        PyObject *value = digits ? PyObject_CallOneArg(decimal_type, digits) : NULL;
        Py_XDECREF(digits);
        int r = value ? PyDict_SetItem(balances, name, value) : -1;
        if (r == 0 && a->opened)
            r = PySet_Add(opened, name);
        if (r == 0 && a->touched)
            r = PySet_Add(touched, name);
        Py_XDECREF(name);
        Py_XDECREF(value);
        if (r < 0)
            goto done;
    }
    char day[10], latest[10];
    if (ex.day != NO_DAY)
        day_text(ex.day, day);
    if (ex.latest != NO_DAY)
        day_text(ex.latest, latest);
    result = Py_BuildValue("(OOOs#s#)", balances, opened, touched, day, (Py_ssize_t)(ex.day != NO_DAY ? 10 : 0),
                           latest, (Py_ssize_t)(ex.latest != NO_DAY ? 10 : 0));
done:
    Py_XDECREF(balances);
    Py_XDECREF(opened);
    Py_XDECREF(touched);
    return result;
}

PyDoc_STRVAR(export_finish_doc,
"export_finish() -> bytes: the Beancount balances of the last day (b'' for the other formats);\n"
"the export's state is let go.");

static PyObject *export_finish(PyObject *self, PyObject *unused) {
    ex.n = 0;
    if (ex.ready && ex.fmt == FMT_BEANCOUNT && ex.day != NO_DAY && !ex_balances())
        return PyErr_NoMemory();
    PyObject *text = ex.oom ? PyErr_NoMemory() : PyBytes_FromStringAndSize(ex.out ? ex.out : "", (Py_ssize_t)ex.n);
    ex_clear();
    return text;
}
