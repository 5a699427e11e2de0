//! Recipe (feature `tokio`): a worker task talks to a server over TCP with
//! tokio, the way an HTTP or database client would, and the answer lands in a
//! resource. The example starts its own tiny server on 127.0.0.1.
//!
//! `cargo run --example http_like --features tokio`

use bevy_app::prelude::*;
use bevy_coro::prelude::*;
use bevy_ecs::prelude::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Resource, Debug)]
struct HighScore(u32);

/// A server that answers `GET /score` with a number, once per connection.
async fn serve(listener: TcpListener) {
    while let Ok((stream, _)) = listener.accept().await {
        let (read, mut write) = stream.into_split();
        let mut request = String::new();
        if BufReader::new(read).read_line(&mut request).await.is_ok()
            && request.trim() == "GET /score"
        {
            let _ = write.write_all(b"200 4242\n").await;
        }
    }
}

fn build(app: &mut App) {
    app.add_plugins(CoroPlugin::default())
        .add_systems(Startup, |coro: Res<Coro>| {
            let server = coro.clone();
            coro.spawn::<Worker>(async move {
                let listener = TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind 127.0.0.1");
                let address = listener.local_addr().unwrap();
                server.spawn::<Worker>(serve(listener)).detach();
                // The client: what a game would do with an HTTP crate.
                let mut stream = TcpStream::connect(address).await.expect("connect");
                stream.write_all(b"GET /score\n").await.unwrap();
                let mut answer = String::new();
                BufReader::new(stream).read_line(&mut answer).await.unwrap();
                let score = answer
                    .trim()
                    .strip_prefix("200 ")
                    .and_then(|n| n.parse().ok());
                with_world(move |world| {
                    if let Some(score) = score {
                        world.insert_resource(HighScore(score));
                    }
                })
                .await;
            })
            .detach();
        });
}

fn main() {
    let mut app = App::new();
    build(&mut app);
    while !app.world().contains_resource::<HighScore>() {
        app.update();
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    println!(
        "high score from the server: {}",
        app.world().resource::<HighScore>().0
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_score_comes_back_over_tcp() {
        let mut app = App::new();
        build(&mut app);
        let start = std::time::Instant::now();
        while !app.world().contains_resource::<HighScore>() {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(60),
                "no answer"
            );
            app.update();
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(app.world().resource::<HighScore>().0, 4242);
    }
}
