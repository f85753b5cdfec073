#pragma once

namespace sp {

enum class Isa { portable = 0, avx2 = 1, avx512 = 2 };

// The best instruction set this CPU and this build support; SPARSIFY_ISA caps it.
Isa detect_isa();
const char* isa_name(Isa isa);

}  // namespace sp
