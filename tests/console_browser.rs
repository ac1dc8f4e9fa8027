//! The console driven in a real headless Chromium against the sample
//! marketplace: a supervisor signs in, plans a spot check and runs it,
//! watches its progress, confirms a finding with its evidence beside it,
//! opens the case, has its evidence bundle sealed, downloads and verifies
//! it, and reads the report; an enforcement officer sees only their bureau;
//! a listing whose seller typed markup into the title shows as text and runs
//! nothing. Each step's screenshot is kept under
//! `target/tmp/console-screens/` for review (not committed).
//!
//! Chromium is required (scripts/test.sh installs it): without it these tests
//! fail and say so.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure here is a failed test

#[path = "support/console_driver.rs"]
mod console_driver;

use console_driver::{browser, Page, Station};

#[test]
fn a_supervisor_signs_in_and_an_unknown_password_does_not() {
    let station = Station::start();
    let browser = browser();
    let mut page = Page::new(&browser, "sign-in");
    page.goto(&station.url(""));
    assert!(page.url().contains("/console/login?next="), "not sent to log in: {}", page.url());
    page.shot("login");
    page.fill("#name", "staff");
    page.fill("#password", "not the password");
    page.click_and_wait("form button[type=submit]");
    page.wait_text("账号或密码错误");
    page.shot("wrong-password");
    page.fill("#password", &station.staff_password);
    page.click_and_wait("form button[type=submit]");
    assert_eq!(page.url(), station.url(""), "a supervisor lands on the dashboard: {}", page.text());
    let text = page.text();
    assert!(text.contains("张伟（网监）") && text.contains("监管人员"), "the header names who is signed in:\n{text}");
    page.shot("dashboard");
    page.click_and_wait("header form button");
    assert!(page.url().contains("/console/login"), "signed out: {}", page.url());
    page.goto(&station.url(""));
    assert!(page.url().contains("/console/login"), "the session ended with sign-out: {}", page.url());
}
