use actix_session::SessionExt;
use actix_web::ResponseError;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use subtle::ConstantTimeEq;

use crate::error::AppError;
use crate::web::TypedSession;

/// Checks every POST in one place: the body is read (413 past the limit),
/// its `csrf_token` must equal the session's (403 otherwise, before any
/// handler runs), and it must be well-formed UTF-8 form data (400). The body
/// is then put back for the handler. Refusals are answered here as
/// responses, not errors, so the outer middleware (security headers, the
/// access log) still sees them.
pub async fn verify_csrf(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    // The API takes bearer tokens only, never the cookie: nothing to forge.
    if req.method() != Method::POST || req.path().starts_with("/api/") {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let refuse = |req: ServiceRequest, e: AppError| {
        Ok(req.into_response(e.error_response()).map_into_right_body())
    };
    let body = match req.extract::<Bytes>().await {
        Ok(b) => b,
        Err(e) if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE => {
            return refuse(req, AppError::PayloadTooLarge);
        }
        Err(_) => {
            return refuse(
                req,
                AppError::BadRequest("The request body could not be read.".into()),
            );
        }
    };
    let expected = TypedSession::new(req.get_session()).stored_csrf();
    let given = form_field(&body, "csrf_token");
    let valid = match (expected, given) {
        (Some(e), Some(g)) => bool::from(e.as_bytes().ct_eq(g.as_bytes())),
        _ => false,
    };
    if !valid {
        return refuse(
            req,
            AppError::Forbidden(
                "The form has expired or did not come from this site. Go back, reload the page and try again.",
            ),
        );
    }
    if !is_utf8_form(&body) {
        return refuse(
            req,
            AppError::BadRequest("The form data is not valid UTF-8 form encoding.".into()),
        );
    }
    req.set_payload(Payload::from(body));
    Ok(next.call(req).await?.map_into_left_body())
}

/// The first value of `field` in a urlencoded body.
fn form_field(body: &[u8], field: &str) -> Option<String> {
    form_urlencoded_pairs(body)
        .find(|(k, _)| k.as_deref() == Some(field))
        .and_then(|(_, v)| v)
}

/// Each `key=value` pair, decoded; `None` where a part is not UTF-8.
fn form_urlencoded_pairs(
    body: &[u8],
) -> impl Iterator<Item = (Option<String>, Option<String>)> + '_ {
    body.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let mut it = pair.splitn(2, |b| *b == b'=');
            let k = it.next().and_then(decode);
            let v = it.next().map_or(Some(String::new()), decode);
            (k, v)
        })
}

fn decode(part: &[u8]) -> Option<String> {
    let plus_as_space: Vec<u8> = part
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    percent_encoding::percent_decode(&plus_as_space)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

fn is_utf8_form(body: &[u8]) -> bool {
    std::str::from_utf8(body).is_ok()
        && form_urlencoded_pairs(body).all(|(k, v)| k.is_some() && v.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_and_decodes_fields() {
        let body = b"a=1&csrf_token=ab%2Bc+d&x";
        assert_eq!(form_field(body, "csrf_token").as_deref(), Some("ab+c d"));
        assert_eq!(form_field(body, "x").as_deref(), Some(""));
        assert_eq!(form_field(body, "missing"), None);
    }

    #[test]
    fn rejects_non_utf8() {
        assert!(is_utf8_form(b"a=%C3%A9"));
        assert!(!is_utf8_form(b"a=%FF"));
        assert!(!is_utf8_form(b"a=\xff"));
    }
}
