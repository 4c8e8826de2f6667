# Turns a file into a C source defining `const char SYMBOL[]` (NUL-terminated) and SYMBOL_len.
file(READ ${IN} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(LENGTH "${hex}" hexlen)
math(EXPR len "${hexlen} / 2")
file(WRITE ${OUT} "/* Generated from ${IN}; do not edit. */\n#include <stddef.h>\n"
     "extern const char ${SYMBOL}[];\nextern const size_t ${SYMBOL}_len;\n"
     "const char ${SYMBOL}[] = {${body}0x00};\nconst size_t ${SYMBOL}_len = ${len};\n")
