//! Creating and editing a plan through the form (or its TOML directly):
//! the values become plan TOML ([`PlanForm::to_toml`]), saved through
//! [`crate::plans::PlanBook::save`], which compiles it first; problems are
//! shown beside the form with every value kept as it was typed.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use maud::Markup;

use super::auth::{Posted, Viewer};
use super::desk::desk;
use super::error::ConsoleError;
use super::layout::{self, Nav};
use super::plan_form::{self, PlanForm, Problems};
use super::reference::{blocking, catalogue};
use super::ConsoleState;

pub fn routes() -> Router<ConsoleState> {
    Router::new()
        .route("/console/plans/new", get(new_form).post(create))
        .route("/console/plans/{id}/edit", get(edit_form).post(update))
}

fn form_page(
    state: &ConsoleState,
    viewer: &Viewer,
    form: &PlanForm,
    problems: &Problems,
    editing: bool,
) -> Result<Markup, ConsoleError> {
    let desk = desk(state)?;
    let (title, action) = if editing {
        (format!("编辑计划：{}", form.id), format!("/console/plans/{}/edit", form.id))
    } else {
        ("新建抽查计划".to_string(), "/console/plans/new".to_string())
    };
    let body = plan_form::render(viewer, form, problems, catalogue()?, &desk.adapters, &action, editing);
    Ok(layout::page(viewer, Nav::Plans, &title, body))
}

async fn new_form(State(state): State<ConsoleState>, viewer: Viewer) -> Result<Markup, ConsoleError> {
    viewer.require_staff()?;
    form_page(&state, &viewer, &PlanForm::blank(), &Problems::default(), false)
}

async fn edit_form(
    State(state): State<ConsoleState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Markup, ConsoleError> {
    viewer.require_staff()?;
    let desk = desk(&state)?.clone();
    let form = blocking(move || {
        let source = desk.book.source(&id).ok_or_else(|| ConsoleError::not_found("抽查计划"))?;
        match desk.book.get(&id, &desk.adapter_refs()) {
            Some(Ok(plan)) => Ok(PlanForm::from_plan(&plan, &source, catalogue()?)),
            // A file that no longer compiles is edited as TOML.
            _ => Ok(PlanForm { id: id.clone(), toml: source, advanced: true, ..PlanForm::blank() }),
        }
    })
    .await?;
    form_page(&state, &viewer, &form, &Problems::default(), true)
}

async fn create(
    State(state): State<ConsoleState>,
    posted: Posted<Vec<(String, String)>>,
) -> Result<Response, ConsoleError> {
    posted.viewer.require_staff()?;
    let form = PlanForm::from_pairs(&posted.form);
    save(state, posted.viewer, form, false).await
}

async fn update(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    posted: Posted<Vec<(String, String)>>,
) -> Result<Response, ConsoleError> {
    posted.viewer.require_staff()?;
    let desk = desk(&state)?.clone();
    let Some(id) = blocking(move || Ok(desk.book.source(&id).map(|_| id))).await? else {
        return Err(ConsoleError::not_found("抽查计划"));
    };
    let mut form = PlanForm::from_pairs(&posted.form);
    // The id is the path's: an edit never renames a plan or overwrites another.
    form.id = id;
    save(state, posted.viewer, form, true).await
}

/// Writes the plan (form values or advanced TOML), or shows the form again with its problems.
async fn save(
    state: ConsoleState,
    viewer: Viewer,
    mut form: PlanForm,
    editing: bool,
) -> Result<Response, ConsoleError> {
    let desk = desk(&state)?.clone();
    let text =
        if form.advanced { Ok(form.toml.clone()) } else { form.to_toml().inspect(|text| form.toml = text.clone()) };
    let mut problems = Problems::default();
    match text {
        Err(fields) => problems.fields = fields,
        Ok(text) => {
            let id = form.id.clone();
            let outcome = blocking(move || {
                if !editing && desk.book.source(&id).is_some() {
                    return Ok(Err(Problems {
                        fields: vec![("id", format!("计划编号 {id} 已存在，请换一个编号，或编辑原计划。"))],
                        compiled: Vec::new(),
                    }));
                }
                Ok(desk
                    .book
                    .save(&id, &text, &desk.adapter_refs())
                    .map_err(|compiled| Problems { fields: Vec::new(), compiled }))
            })
            .await?;
            match outcome {
                Ok(plan) => return Ok(Redirect::to(&format!("/console/plans/{}", plan.id)).into_response()),
                Err(p) => problems = p,
            }
        }
    }
    let page = form_page(&state, &viewer, &form, &problems, editing)?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}
