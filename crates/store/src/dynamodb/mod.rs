//! The DynamoDB backend (cargo feature `dynamodb`, the official AWS SDK): the run log
//! ([`DynamoRunLog`]), the seed project's table.

pub mod runlog;

pub use runlog::{DynamoOptions, DynamoRunLog};
