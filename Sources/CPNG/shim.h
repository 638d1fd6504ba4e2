// libpng 1.6 (Debian libpng-dev).
#include <png.h>
#include <setjmp.h>
#include <string.h>

// libpng reports errors by longjmp, which must never cross Swift frames. Reading therefore goes
// through these small C functions: each sets libpng's jump target in its own frame, so an
// error returns 0 here (with libpng's message in the idl_png_error passed at creation) and
// Swift turns it into a thrown error. Only C frames lie between png_error and the setjmp: the
// Swift read callback returns before libpng checks what it read.

/// libpng's message for the last error of a read structure.
typedef struct { char message[200]; } idl_png_error;

static void idl_png_error_fn(png_structp png, png_const_charp message) {
    idl_png_error *error = (idl_png_error *)png_get_error_ptr(png);
    if (error != NULL) {
        strncpy(error->message, message != NULL ? message : "unknown error", sizeof error->message - 1);
        error->message[sizeof error->message - 1] = 0;
    }
    png_longjmp(png, 1);
}

static void idl_png_warning_fn(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

/// A read structure whose errors land in `error` (NULL if libpng is out of memory).
static inline png_structp idl_png_create_read_struct(idl_png_error *error) {
    return png_create_read_struct(PNG_LIBPNG_VER_STRING, error, idl_png_error_fn, idl_png_warning_fn);
}

/// Reads the header and sets up 8-bit output (palette and low bit depths expanded, tRNS as
/// alpha, 16-bit samples stripped). 1 on success, 0 after a libpng error.
static inline int idl_png_read_header(png_structp png, png_infop info) {
    if (setjmp(png_jmpbuf(png))) return 0;
    png_set_benign_errors(png, 1);  // recoverable problems in ancillary chunks are warnings
    png_read_info(png, info);
    png_set_expand(png);
    png_set_strip_16(png);
    png_read_update_info(png, info);
    return 1;
}

/// Reads all rows into `rows` and the chunks after the image. 1 on success, 0 after a libpng error.
static inline int idl_png_read_rows(png_structp png, png_bytepp rows) {
    if (setjmp(png_jmpbuf(png))) return 0;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    return 1;
}
