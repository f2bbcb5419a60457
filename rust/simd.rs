//! Which instruction set the landmark networks' kernels run: AVX-512 where the CPU has it, the
//! portable loops compiled for AVX2 + FMA where it has those (without FMA instructions
//! `mul_add` is a library call per value), else the portable loops as they are. Every kernel
//! gives the same bits on each.

/// Which code runs a kernel's multiply-adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kernel {
    Portable,
    /// The portable loops compiled for AVX2 + FMA: without FMA instructions `mul_add` is a
    /// library call per value.
    #[cfg(target_arch = "x86_64")]
    Fma,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Kernel {
    /// The fastest kernel this CPU runs (`is_x86_feature_detected!` caches its answer).
    pub(crate) fn best() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") {
                return Kernel::Avx512;
            }
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                return Kernel::Fma;
            }
        }
        Kernel::Portable
    }

    /// The instructions' name, as `rtnet._core.kernel_instructions` reports them.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Portable => "portable",
            #[cfg(target_arch = "x86_64")]
            Kernel::Fma => "avx2+fma",
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => "avx512",
        }
    }

    /// Every kernel this CPU runs, slowest first (the tests compare them).
    #[cfg(test)]
    pub(crate) fn available() -> Vec<Self> {
        let mut kernels = vec![Kernel::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                kernels.push(Kernel::Fma);
            }
            if std::is_x86_feature_detected!("avx512f") {
                kernels.push(Kernel::Avx512);
            }
        }
        kernels
    }
}
