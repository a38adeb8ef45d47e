//! YAML with locations: a located tree ([`node`]) and a reader that turns it into typed values
//! while collecting every problem ([`read`]).

pub mod node;
pub mod read;

pub use node::{Entry, Kind, Loc, Node};
pub use read::{Fields, Reader};
