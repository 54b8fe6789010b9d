//! The listen backlog: a burst of new connections larger than the standard
//! library's backlog of 128 is held by the kernel until the server accepts it,
//! instead of having its SYNs dropped and its clients wait a second for their
//! retransmission.

use std::net::SocketAddr;
use std::time::Duration;

use gatebench_serve::server::bind;
use tokio::net::TcpStream;

/// More connections than a backlog of 128 holds, fewer than this test's descriptors.
const BURST: usize = 300;

#[tokio::test]
async fn a_burst_of_connections_waits_in_the_backlog_until_accepted() {
    let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let addr = listener.local_addr().unwrap();
    // Nothing accepts while the burst connects: the kernel completes every
    // handshake into the backlog, or drops the SYN of the first that does not fit
    // (its connect then never ends, and the timeout says which one).
    let mut held = Vec::with_capacity(BURST);
    for i in 0..BURST {
        let stream = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr))
            .await
            .unwrap_or_else(|_| panic!("connection {i} found the backlog full"))
            .unwrap();
        held.push(stream);
    }
    // and the server then takes them all
    for _ in 0..BURST {
        listener.accept().await.unwrap();
    }
}
