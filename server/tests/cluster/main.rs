//! Countersign as a cluster, proved with real processes: three BFFs and two providers on one
//! PostgreSQL server, Debian's nginx in front of each kind (round robin, no stickiness). The
//! agent and the customer go through nginx, so their requests land on different instances;
//! the scenarios kill instances with SIGKILL and restart PostgreSQL mid-flow, and assert what
//! the agent's event stream shows.
//!
//! These tests need nginx, a PostgreSQL server and the built binaries, so they are ignored by a
//! plain `cargo test` and run by `make test-cluster` (part of `make test`), which provides them:
//! `scripts/test-cluster.sh` (a test's name as its argument runs only that one).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod kit;

use std::{collections::BTreeSet, sync::Arc, time::Instant};

use futures_util::{StreamExt as _, stream};
use kit::{AGENT, APPROVED, Agent, Cluster, PATIENCE, Phone, Shape, Stream};

/// Alice's phone number in the demo seed.
const ALICE: &str = "+15555550101";
/// Bob's.
const BOB: &str = "+15555550102";

/// How often a provider sent `to` a link, and how often a code.
async fn sent_to(cluster: &Cluster, to: &str) -> (usize, usize) {
    let messages = cluster.messages_to(to).await;
    let links = messages.iter().filter(|(_, link)| link.is_some()).count();
    (links, messages.len() - links)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a cluster of processes behind nginx: run by `make test-cluster`"]
async fn an_approval_whose_steps_land_on_three_instances_ends_verified() {
    let cluster = Cluster::start(Shape::default()).await;
    let agent = Agent::sign_in(&cluster, AGENT).await;
    let stream = Stream::open(&agent).await;
    let flow = agent.start(ALICE, "sms").await;
    let mut phone = Phone::new(&cluster, &cluster.link_for(ALICE).await);
    phone.sign_in_and_approve(&cluster, ALICE).await;
    stream.wait_for(&flow, "verified").await;

    // Round robin: the customer's page loads and posts were served by all three BFFs.
    let landed: BTreeSet<u16> = phone.landed.iter().copied().collect();
    let all: BTreeSet<u16> = cluster.bffs.iter().map(|bff| bff.port).collect();
    assert_eq!(
        landed, all,
        "the customer's steps landed on {:?}",
        phone.landed
    );
    assert_eq!(stream.by_flow()[&flow], APPROVED);
    assert_eq!(cluster.stored_kinds(&flow).await, APPROVED);
    assert_eq!(agent.flow(&flow).await["status"], "approved");
    assert_eq!(sent_to(&cluster, ALICE).await, (1, 1));

    // Each event is counted by the one instance that wrote it: summed over the cluster, one
    // verification started and one verified, whichever instances did the work.
    for (processes, series) in [
        (
            &cluster.bffs,
            r#"countersign_verifications_started_total{channel="sms"}"#,
        ),
        (
            &cluster.bffs,
            r#"countersign_verifications_ended_total{outcome="verified"}"#,
        ),
        (
            &cluster.providers,
            r#"countersign_provider_decisions_total{decision="approved"}"#,
        ),
    ] {
        let mut sum = 0.0;
        for process in processes {
            sum += process.metric(series).await;
        }
        assert_eq!(sum, 1.0, "{series}");
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a cluster of processes behind nginx: run by `make test-cluster`"]
async fn the_instance_polling_a_flow_is_killed_and_another_takes_it_over() {
    let mut cluster = Cluster::start(Shape::default()).await;
    let agent = Agent::sign_in(&cluster, AGENT).await;
    let stream = Stream::open(&agent).await;
    let flow = agent.start(ALICE, "sms").await;
    let link = cluster.link_for(ALICE).await;
    let holder = cluster
        .lease_owner(&flow)
        .await
        .expect("the flow has a poller");
    let victim = cluster.bff_named(&holder);
    let killed_at = Instant::now();
    cluster.bffs[victim].kill().await;

    // The customer approves meanwhile, through the instances still up.
    let mut phone = Phone::new(&cluster, &link);
    phone.sign_in_and_approve(&cluster, ALICE).await;
    assert!(!phone.landed.contains(&cluster.bffs[victim].port));

    // Another instance claims the flow once the dead one's lease ends, and polls it.
    let took_over = loop {
        let owner = cluster.lease_owner(&flow).await;
        if owner.as_deref().is_some_and(|owner| owner != holder) {
            break killed_at.elapsed();
        }
        assert!(killed_at.elapsed() < PATIENCE, "nobody took the flow over");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    stream.wait_for(&flow, "verified").await;
    let verified = killed_at.elapsed();
    println!(
        "cluster: poller lease taken over {:.1} s after SIGKILL; `verified` on the agent's \
         stream {:.1} s after it",
        took_over.as_secs_f64(),
        verified.as_secs_f64()
    );
    // Within one lease: the next poll was due 5 s after the start, the lease 20 s after
    // that, and the instances look for lapsed leases every 5 s.
    assert!(took_over.as_secs() <= 35, "taken over after {took_over:?}");
    let owner = cluster.lease_owner(&flow).await;
    assert!(cluster.bffs[cluster.bff_named(owner.as_deref().unwrap_or(&holder))].alive());

    // No second message, and every event once.
    assert_eq!(sent_to(&cluster, ALICE).await, (1, 1));
    assert_eq!(stream.by_flow()[&flow], APPROVED);
    assert_eq!(cluster.stored_kinds(&flow).await, APPROVED);
    assert_eq!(agent.flow(&flow).await["status"], "approved");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a cluster of processes behind nginx: run by `make test-cluster`"]
async fn the_streams_instance_is_killed_and_the_console_misses_nothing() {
    let mut cluster = Cluster::start(Shape::default()).await;
    let agent = Agent::sign_in(&cluster, AGENT).await;
    let stream = Stream::open(&agent).await;
    let serving = cluster.bff_on(stream.connections()[0].port);
    let flow = agent.start(ALICE, "sms").await;
    let mut phone = Phone::new(&cluster, &cluster.link_for(ALICE).await);
    phone.send_code().await;
    stream.wait_for(&flow, "link_opened").await;
    let last_before = stream.events().last().unwrap().id;
    cluster.bffs[serving].kill().await;

    phone.verify_code(&cluster, ALICE).await;
    phone.approve().await;
    stream.wait_for(&flow, "verified").await;

    // One reconnection, through nginx to another instance, from where the stream had got to.
    let connections = stream.connections();
    assert_eq!(connections.len(), 2, "{connections:?}");
    assert_ne!(connections[1].port, cluster.bffs[serving].port);
    assert_eq!(connections[1].last_event_id, Some(last_before));
    assert_eq!(stream.by_flow()[&flow], APPROVED);
    assert_eq!(cluster.stored_kinds(&flow).await, APPROVED);
    assert_eq!(sent_to(&cluster, ALICE).await, (1, 1));
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a cluster of processes behind nginx: run by `make test-cluster`"]
async fn postgresql_restarts_mid_flow_and_nothing_is_lost() {
    let cluster = Cluster::start(Shape::default()).await;
    let agent = Agent::sign_in(&cluster, AGENT).await;
    let stream = Stream::open(&agent).await;
    let flow = agent.start(ALICE, "sms").await;
    let mut phone = Phone::new(&cluster, &cluster.link_for(ALICE).await);
    phone.send_code().await;
    stream.wait_for(&flow, "link_opened").await;

    let restarted_at = Instant::now();
    cluster.restart_postgres().await;
    phone.verify_code(&cluster, ALICE).await;
    phone.approve().await;
    stream.wait_for(&flow, "verified").await;
    println!(
        "cluster: `verified` on the agent's stream {:.1} s after PostgreSQL restarted",
        restarted_at.elapsed().as_secs_f64()
    );

    // Every instance's listener lost its connection and came back (the stream, on one of
    // them, heard the events the others wrote after the restart).
    for bff in &cluster.bffs {
        assert!(
            bff.logged("the event listener lost its connection"),
            "{}:\n{}",
            bff.name,
            bff.log_tail()
        );
    }

    // A verification started after the restart works as usual.
    let second = agent.start(BOB, "sms").await;
    let mut phone = Phone::new(&cluster, &cluster.link_for(BOB).await);
    phone.sign_in_and_approve(&cluster, BOB).await;
    stream.wait_for(&second, "verified").await;

    let seen = stream.by_flow();
    for id in [&flow, &second] {
        assert_eq!(seen[id], APPROVED, "{id}");
        assert_eq!(cluster.stored_kinds(id).await, APPROVED);
        assert_eq!(agent.flow(id).await["status"], "approved");
    }
    assert_eq!(sent_to(&cluster, ALICE).await, (1, 1));
    cluster.stop().await;
}

/// How many flows run at once, and across how many agents.
const FLOWS: usize = 1_000;
const AGENTS: usize = 10;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a cluster of processes behind nginx: run by `make test-cluster`"]
async fn a_thousand_concurrent_flows_each_end_once_on_their_agents_stream() {
    let cluster = Arc::new(
        Cluster::start(Shape {
            customers: FLOWS,
            agents: AGENTS,
        })
        .await,
    );
    let mut agents = Vec::new();
    let mut streams = Vec::new();
    for n in 0..AGENTS {
        let (email, password) = Shape::agent(n);
        let agent = Agent::sign_in(&cluster, (&email, &password)).await;
        streams.push(Stream::open(&agent).await);
        agents.push(agent);
    }

    let began = Instant::now();
    // Every flow is started before any is approved, so all are live together.
    let started: Vec<(usize, String)> = stream::iter(0..FLOWS)
        .map(|n| {
            let agent = agents[n % AGENTS].clone();
            async move { (n, agent.start(&Shape::phone(n), "sms").await) }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let all_started = began.elapsed();
    stream::iter(started.iter().cloned())
        .for_each_concurrent(32, |(n, _)| {
            let cluster = cluster.clone();
            async move {
                let to = Shape::phone(n);
                let mut phone = Phone::new(&cluster, &cluster.link_for(&to).await);
                phone.sign_in_and_approve(&cluster, &to).await;
            }
        })
        .await;
    let all_approved = began.elapsed();
    for (n, stream) in streams.iter().enumerate() {
        let expected = started.iter().filter(|(m, _)| m % AGENTS == n).count();
        stream
            .wait_until_within(
                &format!("agent {n}'s {expected} verified flows"),
                PATIENCE * 4,
                |heard| heard.count("verified") >= expected,
            )
            .await;
    }
    let all_verified = began.elapsed();
    println!(
        "cluster: {FLOWS} flows by {AGENTS} agents: all started in {:.1} s, approved by {:.1} s, \
         verified on the agents' streams by {:.1} s",
        all_started.as_secs_f64(),
        all_approved.as_secs_f64(),
        all_verified.as_secs_f64()
    );

    // Each agent's stream: exactly its own flows, each event once, in order, as stored.
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT flow_id, kind FROM flow_events ORDER BY id")
            .fetch_all(&cluster.bff_db)
            .await
            .unwrap();
    let mut stored: std::collections::HashMap<String, Vec<String>> = Default::default();
    for (flow, kind) in rows {
        stored.entry(flow).or_default().push(kind);
    }
    for (n, stream) in streams.iter().enumerate() {
        let seen = stream.by_flow();
        let mine: BTreeSet<&String> = started
            .iter()
            .filter(|(m, _)| m % AGENTS == n)
            .map(|(_, id)| id)
            .collect();
        assert_eq!(seen.keys().collect::<BTreeSet<_>>(), mine, "agent {n}");
        for (id, kinds) in &seen {
            assert_eq!(kinds, &stored[id], "agent {n}'s stream, flow {id}");
            assert_eq!(kinds, &APPROVED, "agent {n}, flow {id}");
        }
    }
    // Recorded exactly once: one outcome per flow, one link per customer.
    let verified: Vec<(String, i64)> = sqlx::query_as(
        "SELECT flow_id, count(*) FROM flow_events WHERE kind = 'verified' GROUP BY flow_id",
    )
    .fetch_all(&cluster.bff_db)
    .await
    .unwrap();
    assert_eq!(verified.len(), FLOWS);
    assert!(verified.iter().all(|(_, count)| *count == 1));
    let approved: i64 = sqlx::query_scalar("SELECT count(*) FROM flows WHERE status = 'approved'")
        .fetch_one(&cluster.bff_db)
        .await
        .unwrap();
    assert_eq!(approved, i64::try_from(FLOWS).unwrap());
    let links: Vec<i64> =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE link IS NOT NULL GROUP BY recipient")
            .fetch_all(&cluster.provider_db)
            .await
            .unwrap();
    assert_eq!(links.len(), FLOWS);
    assert!(links.iter().all(|count| *count == 1));

    drop(streams);
    Arc::into_inner(cluster).unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a cluster of processes behind nginx: run by `make test-cluster`"]
async fn the_two_device_browser_test_passes_against_the_cluster() {
    let cluster = Cluster::start(Shape::default()).await;
    let end2end = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../end2end");
    let status = tokio::process::Command::new("npx")
        .args(["--no-install", "playwright", "test"])
        .args(["--config", "playwright.cluster.config.ts"])
        .current_dir(end2end)
        .env("E2E_CLUSTER_URL", &cluster.bff_url)
        .env("E2E_PROVIDER_PORT", cluster.provider_port.to_string())
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .status()
        .await
        .unwrap();
    assert!(status.success(), "playwright against the cluster: {status}");
    cluster.stop().await;
}
