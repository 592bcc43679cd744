//! The normalisers of e-mail, URL and phone values, the same for record fields (a contact's
//! e-mail, a company's website) and custom-field values: each trims, checks and returns the
//! stored form, or a message saying what is expected.

use garde::Validate;

/// Longest accepted e-mail address.
pub const MAX_EMAIL_LEN: usize = 254;
/// Longest accepted URL.
pub const MAX_URL_LEN: usize = 2048;
/// Longest text read as a phone number (the parser's work grows with it).
const MAX_PHONE_INPUT: usize = 64;

#[derive(Validate)]
struct EmailCheck {
    #[garde(email, length(max = MAX_EMAIL_LEN))]
    email: String,
}

/// An e-mail address, trimmed and lower-cased as a whole (addresses are unique and matched
/// case-insensitively).
pub fn email(raw: &str) -> Result<String, String> {
    let email = raw.trim().to_lowercase();
    EmailCheck {
        email: email.clone(),
    }
    .validate()
    .map_err(|report| {
        let why = report
            .iter()
            .map(|(_, e)| e.message().to_string())
            .collect::<Vec<_>>()
            .join("; ");
        format!("must be a valid e-mail address: {why}")
    })?;
    Ok(email)
}

/// An absolute http(s) URL with a host, in the `url` crate's canonical form (scheme and
/// host lower-cased, an empty path as `/`), so that one address is stored one way.
pub fn url(raw: &str) -> Result<String, String> {
    let invalid =
        || format!("must be an http:// or https:// URL of at most {MAX_URL_LEN} characters");
    let text = raw.trim();
    if text.chars().count() > MAX_URL_LEN
        || text.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid());
    }
    let parsed = url::Url::parse(text).map_err(|_| invalid())?;
    let fits = matches!(parsed.scheme(), "http" | "https")
        && parsed.host_str().is_some_and(|h| !h.is_empty());
    let canonical = parsed.to_string();
    if !fits || canonical.len() > MAX_URL_LEN {
        return Err(invalid());
    }
    Ok(canonical)
}

/// An international phone number (`+` and the country code; no default region) in E.164,
/// e.g. `+1 (415) 555-2671` → `+14155552671`.
pub fn phone(raw: &str) -> Result<String, String> {
    let invalid = || {
        "must be a phone number in international format (+ and the country code, e.g. \
         +14155552671)"
            .to_owned()
    };
    let text = raw.trim();
    if text.chars().count() > MAX_PHONE_INPUT {
        return Err(invalid());
    }
    let number = phonenumber::parse(None, text).map_err(|_| invalid())?;
    if !number.is_valid() {
        return Err(invalid());
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lower_cased_whole() {
        assert_eq!(
            email(" Ann.Lee@Acme.EXAMPLE ").unwrap(),
            "ann.lee@acme.example"
        );
        for bad in ["ann", "ann@", "@acme.example", "a b@acme.example"] {
            assert!(email(bad).unwrap_err().contains("e-mail address"), "{bad}");
        }
    }

    #[test]
    fn urls_must_be_http_or_https_with_a_host() {
        assert_eq!(
            url(" https://acme.example/x ").unwrap(),
            "https://acme.example/x"
        );
        assert_eq!(url("HTTP://Acme.Example").unwrap(), "http://acme.example/");
        let long = format!("https://acme.example/{}", "a".repeat(MAX_URL_LEN));
        for bad in [
            "ftp://acme.example",
            "acme.example",
            "https://",
            "http://a b",
            "mailto:ann@acme.example",
            long.as_str(),
        ] {
            assert!(url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phones_become_e164_and_local_numbers_are_refused() {
        assert_eq!(phone("+1 (415) 555-2671").unwrap(), "+14155552671");
        assert_eq!(phone("+44 20 7946 0958").unwrap(), "+442079460958");
        let long = format!("+1{}", "5".repeat(80));
        for bad in [
            "415 555 2671",
            "+1 12",
            "hello",
            "+999 123456",
            long.as_str(),
        ] {
            assert!(
                phone(bad).unwrap_err().contains("international format"),
                "{bad}"
            );
        }
    }
}
