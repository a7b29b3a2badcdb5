//! Device contexts as MXNet names them: `cpu(i)`, `gpu(i)`, `cpu_pinned(i)`.

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceType {
    Cpu = 1,
    Gpu = 2,
    CpuPinned = 3,
    CpuShared = 5,
}

impl DeviceType {
    /// MXNet's `dev_type` code as stored in `.params` files.
    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn from_code(code: i32) -> Option<Self> {
        match code {
            1 => Some(DeviceType::Cpu),
            2 => Some(DeviceType::Gpu),
            3 => Some(DeviceType::CpuPinned),
            5 => Some(DeviceType::CpuShared),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DeviceType::Cpu => "cpu",
            DeviceType::Gpu => "gpu",
            DeviceType::CpuPinned => "cpu_pinned",
            DeviceType::CpuShared => "cpu_shared",
        }
    }

    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "cpu" => Ok(DeviceType::Cpu),
            "gpu" => Ok(DeviceType::Gpu),
            "cpu_pinned" => Ok(DeviceType::CpuPinned),
            "cpu_shared" => Ok(DeviceType::CpuShared),
            _ => Err(Error::Key(format!("'{name}'"))),
        }
    }
}

/// `mx.Context`: a device type and an id. Different `cpu(i)` are distinct placements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Context {
    pub dev_type: DeviceType,
    pub dev_id: i32,
}

impl Context {
    pub const fn cpu(id: i32) -> Self {
        Context {
            dev_type: DeviceType::Cpu,
            dev_id: id,
        }
    }

    pub const fn gpu(id: i32) -> Self {
        Context {
            dev_type: DeviceType::Gpu,
            dev_id: id,
        }
    }

    /// Host memory (cpu, cpu_pinned, cpu_shared) — all run on the CPU kernels.
    pub fn is_host(&self) -> bool {
        self.dev_type != DeviceType::Gpu
    }

    /// Whether one op may take arrays on both: MXNet runs an op over arrays of any host
    /// contexts (`cpu(0)` beside `cpu(1)`: one memory), never across GPUs.
    pub fn shares_memory_with(&self, other: Context) -> bool {
        *self == other || (self.is_host() && other.is_host())
    }

    /// Fails with a clear message where the context cannot hold arrays in this build.
    pub fn check_usable(&self, op: &str) -> Result<()> {
        #[cfg(feature = "cuda")]
        if self.dev_type == DeviceType::Gpu {
            return crate::kernels::cuda::device(self.dev_id)
                .map(|_| ())
                .map_err(|e| Error::Context(format!("operator {op} cannot run on {self}: {e}")));
        }
        #[cfg(not(feature = "cuda"))]
        if self.dev_type == DeviceType::Gpu {
            return Err(Error::Context(format!(
                "operator {op} cannot run on {self}: no CUDA device found (oxnet was built \
                 without the GPU backend, or no driver is loaded); mx.context.num_gpus() is 0"
            )));
        }
        if self.dev_id < 0 {
            return Err(Error::Context(format!("invalid device id in {self}")));
        }
        Ok(())
    }

    /// Parses MXNet's printed form, `cpu(0)`, as used in op attributes.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        let bad = || {
            Error::Value(format!(
                "invalid context string '{s}', expected e.g. 'cpu(0)'"
            ))
        };
        let open = s.find('(').ok_or_else(bad)?;
        let close = s.rfind(')').ok_or_else(bad)?;
        let dev_type = DeviceType::from_name(s[..open].trim()).map_err(|_| bad())?;
        let dev_id = s[open + 1..close]
            .trim()
            .parse::<i32>()
            .map_err(|_| bad())?;
        Ok(Context { dev_type, dev_id })
    }
}

/// GPUs this process can use (`mx.context.num_gpus()`); 0 without a driver or without the
/// `cuda` feature.
pub fn num_gpus() -> usize {
    #[cfg(feature = "cuda")]
    return crate::kernels::cuda::num_gpus();
    #[cfg(not(feature = "cuda"))]
    0
}

impl Default for Context {
    fn default() -> Self {
        Context::cpu(0)
    }
}

impl std::fmt::Display for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({})", self.dev_type.name(), self.dev_id)
    }
}
