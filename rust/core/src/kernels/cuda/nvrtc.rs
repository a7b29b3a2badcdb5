//! Run-time compilation of the kernel sources with NVRTC, for the architecture of the device
//! that runs them (no nvcc at build time, no fat binaries to ship).

use crate::error::{Error, Result};
use cudarc::nvrtc::{self, CompileError, CompileOptions};

/// NVRTC's virtual architecture for a compute capability: `compute_90` for (9, 0).
pub fn arch_of(cc: (i32, i32)) -> String {
    format!("compute_{}{}", cc.0, cc.1)
}

/// PTX text of `src` for `arch`; a failure carries NVRTC's log and names the module.
pub fn compile(key: &str, src: &str, arch: &str) -> Result<String> {
    // SAFETY: only probes whether the library can be opened.
    if !unsafe { nvrtc::sys::is_culib_present() } {
        return Err(Error::Context(
            "NVRTC library not found: install the nvidia-cuda-nvrtc package (pip) or the CUDA \
             toolkit to compile GPU kernels"
                .into(),
        ));
    }
    let opts = CompileOptions {
        options: vec![format!("--gpu-architecture={arch}"), "--std=c++17".into()],
        name: Some(format!("{key}.cu")),
        ..Default::default()
    };
    match nvrtc::compile_ptx_with_opts(src, opts) {
        Ok(ptx) => Ok(ptx.to_src()),
        Err(CompileError::CompileError { log, .. }) => Err(Error::Internal(format!(
            "NVRTC could not compile the {key} kernels for {arch}:\n{}",
            log.to_string_lossy()
        ))),
        Err(e) => Err(Error::Internal(format!(
            "NVRTC failed on the {key} kernels for {arch}: {e:?}"
        ))),
    }
}

/// Compiles every kernel module for `arch`: (module, PTX text or NVRTC's log). Lets a
/// machine without a GPU check that all sources compile.
pub fn compile_all(arch: &str) -> Vec<(&'static str, std::result::Result<String, String>)> {
    super::sources::all()
        .into_iter()
        .map(|(key, src)| {
            let r = compile(key, &src(), arch).map_err(|e| e.to_string());
            (key, r)
        })
        .collect()
}
