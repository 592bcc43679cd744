//! Tag names as records carry them: trimmed, 1–50 characters, at most 50 per record, unique
//! case-insensitively (the first spelling wins).

use crate::error::FieldError;

/// Most tags on one record.
pub const MAX_TAGS: usize = 50;
/// Longest tag name, in characters.
pub const MAX_TAG_LEN: usize = 50;

/// Normalises a record's tags, or names the problem under `tags`.
pub fn normalize_tags(tags: &[String]) -> Result<Vec<String>, FieldError> {
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let tag = tag.trim();
        if tag.is_empty() || tag.chars().count() > MAX_TAG_LEN {
            return Err(FieldError::new(
                "tags",
                format!("each tag must be 1 to {MAX_TAG_LEN} characters"),
            ));
        }
        if !out.iter().any(|t| t.to_lowercase() == tag.to_lowercase()) {
            out.push(tag.to_owned());
        }
    }
    if out.len() > MAX_TAGS {
        return Err(FieldError::new("tags", format!("at most {MAX_TAGS} tags")));
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
    }
}
