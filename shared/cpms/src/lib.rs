//! `cpms`: the whole CPMS in one process on embedded adapters (`cpms serve`), a charger simulator for
//! quickstarts and load tests (`cpms simulate`), and OCPP tools (`cpms ocpp check`).

pub mod check;
pub mod cost;
pub mod serve;
pub mod simulate;
