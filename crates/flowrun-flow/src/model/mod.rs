//! The typed model of flow files and the project file.

pub mod duration;
pub mod flow;
pub mod pipeline;
pub mod project;
pub mod test_file;
pub mod trigger;

pub use flow::*;
pub use pipeline::*;
pub use project::*;
pub use test_file::*;
pub use trigger::*;
