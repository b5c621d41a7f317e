// C++ exceptions across several frames, built with clang's -fwasm-exceptions and converted to the
// standard exnref form by binaryen (build.sh). Freestanding: WASI's libc++abi has no wasm
// exception support, so the few C++ ABI entry points a throw and a catch need are defined here
// (cxa_min below), and handlers tell exception types apart by the thrown type_info.
//
// eval(n) parses and evaluates the n-th expression of a small table with a recursive-descent
// parser; syntax errors and division by zero are thrown from deep inside the recursion and caught
// at the top, and every frame on the way holds a Guard whose destructor counts the cleanups that
// ran during unwinding.

namespace std {
class type_info {
  public:
    virtual ~type_info();
    const char *name_;
};
type_info::~type_info() {}
} // namespace std

namespace __cxxabiv1 {
struct __class_type_info : std::type_info {
    ~__class_type_info() override;
};
__class_type_info::~__class_type_info() {}
} // namespace __cxxabiv1

// The deleting destructors of the type_info classes refer to it; nothing is ever deleted.
void operator delete(void *) noexcept {}
void operator delete(void *, unsigned long) noexcept {}

// --- cxa_min: one exception in flight at a time, in a static buffer ---------------------------
namespace {
struct Header {
    const std::type_info *type;
};
alignas(16) unsigned char exn_buffer[256];
Header *header() { return reinterpret_cast<Header *>(exn_buffer); }
void *payload() { return exn_buffer + 16; }
} // namespace

extern "C" void *__cxa_allocate_exception(unsigned long size) {
    if (size > sizeof exn_buffer - 16) __builtin_trap();
    return payload();
}

extern "C" __attribute__((noinline)) void __cxa_throw(void *obj, std::type_info *type, void (*)(void *)) {
    header()->type = type;
    __builtin_wasm_throw(0, obj);
}

extern "C" void *__cxa_begin_catch(void *exn) { return exn; }
extern "C" void __cxa_end_catch() {}

// The exception being handled, thrown again: clang 14 crashes on `throw;` with
// -fwasm-exceptions (as it does on a throw inlined into a function with cleanups, hence the
// noinline on __cxa_throw), so the program calls this instead.
__attribute__((noinline)) static void rethrow_current() { __builtin_wasm_throw(0, payload()); }

// The type_info of the exception being handled.
static const std::type_info *current_type() { return header()->type; }

// --- the program -------------------------------------------------------------------------------
struct SyntaxError {
    int position;
};
struct DivideByZero {
    int position;
};
extern const std::type_info syntax_error_type __asm__("_ZTI11SyntaxError");
extern const std::type_info divide_by_zero_type __asm__("_ZTI12DivideByZero");

static int cleanups;
static int rethrows;

struct Guard {
    ~Guard() { ++cleanups; }
};

struct Parser {
    const char *s;
    int pos;

    char peek() const { return s[pos]; }

    __attribute__((noinline)) int primary() {
        Guard g;
        if (peek() == '(') {
            ++pos;
            int v = sum();
            if (peek() != ')') throw SyntaxError{pos};
            ++pos;
            return v;
        }
        if (peek() < '0' || peek() > '9') throw SyntaxError{pos};
        int v = 0;
        while (peek() >= '0' && peek() <= '9') v = v * 10 + (s[pos++] - '0');
        return v;
    }

    __attribute__((noinline)) int product() {
        Guard g;
        int v = primary();
        while (peek() == '*' || peek() == '/') {
            char op = s[pos++];
            int at = pos;
            int r = primary();
            if (op == '*') {
                v *= r;
            } else {
                if (r == 0) throw DivideByZero{at};
                v /= r;
            }
        }
        return v;
    }

    __attribute__((noinline)) int sum() {
        Guard g;
        int v = product();
        while (peek() == '+' || peek() == '-') {
            char op = s[pos++];
            int r = product();
            v = op == '+' ? v + r : v - r;
        }
        return v;
    }
};

static const char *const exprs[] = {
    "1+2*3",            // 7
    "(1+2)*3",          // 9
    "((((((7))))))",    // 7
    "2*(3+4)*5-6/2",    // 67
    "1+(2*",            // syntax error at 5
    "8/(4-4)",          // division by zero at 2
    "((((1/0))))",      // division by zero at 6
    "12+x",             // syntax error at 3
};

// The value of the whole expression `s`.
__attribute__((noinline)) static int parse_all(const char *s) {
    Parser p{s, 0};
    int v = p.sum();
    if (p.peek() != 0) throw SyntaxError{p.pos};
    return v;
}

// Evaluates after a rethrow through one more handler, to cross frames twice.
__attribute__((noinline)) static int eval_counting(const char *s) {
    try {
        return parse_all(s);
    } catch (...) {
        ++rethrows;
        rethrow_current();
    }
    return 0;
}

// The value of expression n; errors as -1000 - position (syntax) or -2000 - position (division).
extern "C" int eval(int n) {
    if (n < 0 || n >= int(sizeof exprs / sizeof exprs[0])) return -1;
    try {
        return eval_counting(exprs[n]);
    } catch (...) {
        const std::type_info *t = current_type();
        int at = *static_cast<int *>(payload());
        if (t == &syntax_error_type) return -1000 - at;
        if (t == &divide_by_zero_type) return -2000 - at;
        return -3000;
    }
}

extern "C" int cleanup_count() { return cleanups; }
extern "C" int rethrow_count() { return rethrows; }
