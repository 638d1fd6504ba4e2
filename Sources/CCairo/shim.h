// Cairo 1.16 with its FreeType/fontconfig font backend, PDF and SVG surfaces (Debian
// libcairo2-dev, which brings libfontconfig-dev and libfreetype-dev), and fontconfig itself,
// used to find DejaVu Sans (Debian fonts-dejavu-core).
#include <cairo/cairo.h>
#include <cairo/cairo-ft.h>
#include <cairo/cairo-pdf.h>
#include <cairo/cairo-svg.h>
#include <fontconfig/fontconfig.h>
