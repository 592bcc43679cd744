//! Tag names as records carry them: trimmed, 1–50 characters, at most 50 per record, unique
//! case-insensitively (the first spelling wins).

use std::collections::HashSet;

use crate::error::FieldError;

/// Most tags on one record.
pub const MAX_TAGS: usize = 50;
/// Longest tag name, in characters.
pub const MAX_TAG_LEN: usize = 50;

/// Normalises a record's tags, or names the problem under `tags`. The count is checked before
/// any work (a request may carry tens of thousands of entries) and duplicates are found with a
/// set, so the cost is linear in the input.
pub fn normalize_tags(tags: &[String]) -> Result<Vec<String>, FieldError> {
    if tags.len() > MAX_TAGS {
        return Err(FieldError::new("tags", format!("at most {MAX_TAGS} tags")));
    }
    let mut seen: HashSet<String> = HashSet::with_capacity(tags.len());
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let tag = tag.trim();
        if tag.is_empty() || tag.chars().count() > MAX_TAG_LEN {
            return Err(FieldError::new(
                "tags",
                format!("each tag must be 1 to {MAX_TAG_LEN} characters"),
            ));
        }
        if seen.insert(tag.to_lowercase()) {
            out.push(tag.to_owned());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_trimmed_and_deduplicated_case_insensitively() {
        let tags = normalize_tags(&[" VIP ".into(), "vip".into(), "lead".into()]).unwrap();
        assert_eq!(tags, ["VIP", "lead"]);
        assert!(normalize_tags(&["".into()]).is_err());
        assert!(normalize_tags(&["x".repeat(51)]).is_err());
        let many: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
        assert!(normalize_tags(&many).is_err());
        // Counted as sent: 51 entries are too many even if they name fewer tags.
        let repeated: Vec<String> = (0..51).map(|_| "same".to_owned()).collect();
        assert!(normalize_tags(&repeated).is_err());
    }

    #[test]
    fn a_huge_tag_list_is_refused_before_any_work() {
        let huge: Vec<String> = (0..50_000).map(|i| format!("tag{i}")).collect();
        let err = normalize_tags(&huge).unwrap_err();
        assert_eq!(err.message, format!("at most {MAX_TAGS} tags"));
    }
}
