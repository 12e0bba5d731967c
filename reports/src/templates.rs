//! The embedded tera templates and the one place they are rendered.
//!
//! Templates are compiled into the binary (`include_str!`), so a report can be
//! produced from any working directory. Autoescaping is on for every template
//! (they all end in `.html`); the only values marked `safe` are SVG strings
//! built by [`crate::svg`], which escapes every text it writes.

use crate::ReportError;
use serde::Serialize;
use std::sync::OnceLock;
use tera::{Context, Tera};

const TEMPLATES: [(&str, &str); 6] = [
    ("base.html", include_str!("templates/base.html")),
    ("report.html", include_str!("templates/report.html")),
    ("index.html", include_str!("templates/index.html")),
    ("listing.html", include_str!("templates/listing.html")),
    ("sweep.html", include_str!("templates/sweep.html")),
    ("zoo.html", include_str!("templates/zoo.html")),
];

fn engine() -> Result<&'static Tera, ReportError> {
    static ENGINE: OnceLock<Result<Tera, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let mut tera = Tera::new();
            tera.autoescape_on([".html"]);
            tera.add_raw_templates(TEMPLATES)
                .map_err(|e| error_chain(&e))?;
            Ok(tera)
        })
        .as_ref()
        .map_err(|message| ReportError::Template {
            template: "(loading)".into(),
            message: message.clone(),
        })
}

/// Renders `template` with `view` (a struct whose fields the template reads).
pub fn render<T: Serialize>(template: &str, view: &T) -> Result<String, ReportError> {
    let fail = |e: tera::Error| ReportError::Template {
        template: template.to_string(),
        message: error_chain(&e),
    };
    let context = Context::from_serialize(view).map_err(fail)?;
    engine()?.render(template, &context).map_err(fail)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        msg.push_str(": ");
        msg.push_str(&c.to_string());
        cause = c.source();
    }
    msg
}
