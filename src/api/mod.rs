//! The platform-facing HTTP API (issue 7): platforms poll their notices and
//! report what they did about them.
