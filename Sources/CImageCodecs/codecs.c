#include "CImageCodecs.h"
int latentlab_codecs_version(void) { return 1; }
