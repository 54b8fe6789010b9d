//! Checking a personality request and reducing it to its canonical form: what the
//! answer depends on, so that requests that mean the same get the same answer.

use gatebench_wire::elevenlabs::ValidationIssue;
use gatebench_wire::personality::{
    MAX_AGE, MAX_INTEREST_CHARS, MAX_INTERESTS, MAX_NAME_CHARS, MAX_THEME_CHARS, MIN_AGE,
    PersonalityRequest,
};
use serde_json::Value;

/// A request that cannot be served, with what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PersonalityError {
    /// Age outside the range served.
    #[error("age must be between {MIN_AGE} and {MAX_AGE} (got {0})")]
    AgeOutOfRange(i64),
    /// More interests than allowed.
    #[error("interests may list at most {MAX_INTERESTS} items (got {0})")]
    TooManyInterests(usize),
    /// A text field that is empty or only whitespace.
    #[error("{} must not be empty", field_name(.field, *.index))]
    Empty {
        /// `interests`, `name` or `story_theme`.
        field: &'static str,
        /// Index in `interests`.
        index: Option<usize>,
    },
    /// A text field over its length limit.
    #[error("{} must be at most {max} characters (got {len})", field_name(.field, *.index))]
    TooLong {
        /// `interests`, `name` or `story_theme`.
        field: &'static str,
        /// Index in `interests`.
        index: Option<usize>,
        /// The limit.
        max: usize,
        /// Characters sent.
        len: usize,
    },
}

fn field_name(field: &str, index: Option<usize>) -> String {
    match index {
        Some(i) => format!("{field}[{i}]"),
        None => field.to_owned(),
    }
}

impl PersonalityError {
    /// Where the problem is, FastAPI style (`["body", "interests", 2]`).
    pub fn loc(&self) -> Vec<Value> {
        let (field, index) = match self {
            PersonalityError::AgeOutOfRange(_) => ("age", None),
            PersonalityError::TooManyInterests(_) => ("interests", None),
            PersonalityError::Empty { field, index }
            | PersonalityError::TooLong { field, index, .. } => (*field, *index),
        };
        let mut loc = vec![Value::from("body"), Value::from(field)];
        loc.extend(index.map(Value::from));
        loc
    }

    /// Machine-readable kind, in pydantic's vocabulary.
    pub fn kind(&self) -> &'static str {
        match self {
            PersonalityError::AgeOutOfRange(_) => "out_of_range",
            PersonalityError::TooManyInterests(_) => "too_long",
            PersonalityError::Empty { .. } => "string_too_short",
            PersonalityError::TooLong { .. } => "string_too_long",
        }
    }

    /// As one entry of a 422 body.
    pub fn issue(&self) -> ValidationIssue {
        ValidationIssue {
            loc: self.loc(),
            msg: self.to_string(),
            kind: self.kind().to_owned(),
        }
    }
}

/// A valid request in canonical form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Child {
    /// Age in years.
    pub age: i64,
    /// Interests trimmed, lowercased, without duplicates, sorted.
    pub interests: Vec<String>,
    /// Name, trimmed.
    pub name: Option<String>,
    /// Story theme, trimmed.
    pub story_theme: Option<String>,
}

impl Child {
    /// The canonical form, to seed what the answer draws. JSON keeps it unambiguous
    /// whatever characters the fields hold.
    pub fn canonical(&self) -> String {
        serde_json::json!([self.age, self.interests, self.name, self.story_theme]).to_string()
    }
}

/// Checks `request` and puts it in canonical form.
pub fn check(request: &PersonalityRequest) -> Result<Child, Vec<PersonalityError>> {
    let mut errors = Vec::new();
    if !(MIN_AGE..=MAX_AGE).contains(&request.age) {
        errors.push(PersonalityError::AgeOutOfRange(request.age));
    }
    if request.interests.len() > MAX_INTERESTS {
        errors.push(PersonalityError::TooManyInterests(request.interests.len()));
    }
    let mut interests = Vec::new();
    for (i, interest) in request.interests.iter().enumerate() {
        if let Some(text) = text_field(
            &mut errors,
            "interests",
            Some(i),
            interest,
            MAX_INTEREST_CHARS,
        ) {
            interests.push(text.to_lowercase());
        }
    }
    let name = request
        .name
        .as_deref()
        .and_then(|n| text_field(&mut errors, "name", None, n, MAX_NAME_CHARS));
    let story_theme = request
        .story_theme
        .as_deref()
        .and_then(|t| text_field(&mut errors, "story_theme", None, t, MAX_THEME_CHARS));
    if !errors.is_empty() {
        return Err(errors);
    }
    interests.sort();
    interests.dedup();
    Ok(Child {
        age: request.age,
        interests,
        name: name.map(str::to_owned),
        story_theme: story_theme.map(str::to_owned),
    })
}

/// The field trimmed, or `None` after noting why it cannot be used.
fn text_field<'a>(
    errors: &mut Vec<PersonalityError>,
    field: &'static str,
    index: Option<usize>,
    value: &'a str,
    max: usize,
) -> Option<&'a str> {
    let trimmed = value.trim();
    let len = trimmed.chars().count();
    if trimmed.is_empty() {
        errors.push(PersonalityError::Empty { field, index });
        None
    } else if len > max {
        errors.push(PersonalityError::TooLong {
            field,
            index,
            max,
            len,
        });
        None
    } else {
        Some(trimmed)
    }
}
