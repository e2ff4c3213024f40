//! A small Chrome DevTools Protocol client for the browser tests: starts
//! `/usr/bin/chromium --headless --remote-debugging-pipe` (messages are
//! JSON terminated by NUL on file descriptors 3 and 4, as Playwright drives
//! Chromium), opens one page target and talks to it.

use serde_json::{Value, json};
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::FromRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";
const TIMEOUT: Duration = Duration::from_secs(20);

pub struct Browser {
    child: Child,
    tx: File,
    rx: Receiver<Value>,
    next_id: u64,
    session: String,
    /// Events seen so far that were not answers.
    pub events: Vec<Value>,
    profile: std::path::PathBuf,
}

fn pipe() -> (i32, i32) {
    let mut fds = [0i32; 2];
    // SAFETY: fds is a valid array of two ints for pipe2 to fill.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(r, 0, "pipe2");
    (fds[0], fds[1])
}

impl Browser {
    pub fn start(profile: &std::path::Path) -> Browser {
        let (to_chrome_r, to_chrome_w) = pipe();
        let (from_chrome_r, from_chrome_w) = pipe();
        let mut cmd = Command::new(CHROMIUM);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--remote-debugging-pipe",
            "--window-size=1400,1000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        // SAFETY: only async-signal-safe calls (fcntl, dup2) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let a = libc::fcntl(to_chrome_r, libc::F_DUPFD, 100);
                let b = libc::fcntl(from_chrome_w, libc::F_DUPFD, 100);
                if a < 0 || b < 0 || libc::dup2(a, 3) < 0 || libc::dup2(b, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("start chromium");
        // SAFETY: these descriptors came from pipe2 above and are owned here.
        unsafe {
            libc::close(to_chrome_r);
            libc::close(from_chrome_w);
        }
        let tx = unsafe { File::from_raw_fd(to_chrome_w) };
        let rxf = unsafe { File::from_raw_fd(from_chrome_r) };
        let (stx, srx) = channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(rxf);
            loop {
                let mut buf = Vec::new();
                match r.read_until(0, &mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {
                        buf.pop();
                        if let Ok(v) = serde_json::from_slice::<Value>(&buf)
                            && stx.send(v).is_err()
                        {
                            return;
                        }
                    }
                }
            }
        });
        let mut b = Browser {
            child,
            tx,
            rx: srx,
            next_id: 0,
            session: String::new(),
            events: Vec::new(),
            profile: profile.to_path_buf(),
        };
        let t = b.call("Target.createTarget", json!({"url": "about:blank"}));
        let target = t["targetId"].as_str().expect("targetId").to_string();
        let s = b.call("Target.attachToTarget", json!({"targetId": target, "flatten": true}));
        b.session = s["sessionId"].as_str().expect("sessionId").to_string();
        for m in ["Runtime.enable", "Log.enable", "Page.enable"] {
            b.call(m, json!({}));
        }
        b
    }

    fn recv(&mut self, deadline: Instant) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.rx.recv_timeout(left) {
            Ok(v) => v,
            Err(RecvTimeoutError::Timeout) => panic!("chromium did not answer within {TIMEOUT:?}"),
            Err(RecvTimeoutError::Disconnected) => panic!("chromium closed the pipe"),
        }
    }

    /// Send a command (to the page once attached) and wait for its answer.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        let mut bytes = serde_json::to_vec(&msg).expect("json");
        bytes.push(0);
        self.tx.write_all(&bytes).expect("write to chromium");
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let v = self.recv(deadline);
            if v["id"].as_u64() == Some(id) {
                if let Some(e) = v.get("error") {
                    panic!("{method}: {e}");
                }
                return v["result"].clone();
            }
            self.events.push(v);
        }
    }

    /// Navigate and wait for the load event.
    pub fn open(&mut self, url: &str) {
        self.events.retain(|e| e["method"] != "Page.loadEventFired");
        self.call("Page.navigate", json!({"url": url}));
        let deadline = Instant::now() + TIMEOUT;
        if self.events.iter().any(|e| e["method"] == "Page.loadEventFired") {
            return;
        }
        loop {
            let v = self.recv(deadline);
            let done = v["method"] == "Page.loadEventFired";
            self.events.push(v);
            if done {
                return;
            }
        }
    }

    /// Evaluate `expr` in the page; its value (JSON), or a panic with the
    /// exception.
    pub fn eval(&mut self, expr: &str) -> Value {
        let r = self.call("Runtime.evaluate", json!({"expression": expr, "returnByValue": true}));
        if let Some(ex) = r.get("exceptionDetails") {
            panic!("{expr}: {ex}");
        }
        r["result"]["value"].clone()
    }

    /// Press a key as a person would (keyDown, then keyUp).
    pub fn key(&mut self, key: &str) {
        let (code, vk, text) = match key {
            "ArrowRight" => ("ArrowRight", 39, ""),
            "ArrowLeft" => ("ArrowLeft", 37, ""),
            "j" => ("KeyJ", 74, "j"),
            "k" => ("KeyK", 75, "k"),
            "n" => ("KeyN", 78, "n"),
            _ => panic!("key {key}"),
        };
        let mut down = json!({"type": "keyDown", "key": key, "code": code, "windowsVirtualKeyCode": vk});
        if !text.is_empty() {
            down["text"] = json!(text);
        }
        self.call("Input.dispatchKeyEvent", down);
        self.call(
            "Input.dispatchKeyEvent",
            json!({"type": "keyUp", "key": key, "code": code, "windowsVirtualKeyCode": vk}),
        );
    }

    /// Click the centre of the first element matching `selector`.
    pub fn click(&mut self, selector: &str) {
        let sel = serde_json::to_string(selector).expect("json");
        let r = self.eval(&format!(
            "(() => {{ const e = document.querySelector({sel}); if (!e) return null; e.scrollIntoView({{block: 'center'}}); \
             const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()"
        ));
        let (x, y) = (r[0].as_f64().unwrap_or_else(|| panic!("no element {selector}")), r[1].as_f64().unwrap_or(0.0));
        for t in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": t, "x": x, "y": y, "button": "left", "clickCount": 1}),
            );
        }
    }

    /// Console errors, warnings and uncaught exceptions seen so far.
    pub fn console_errors(&mut self) -> Vec<String> {
        // Let pending events arrive: a round trip flushes them.
        self.eval("1");
        self.events
            .iter()
            .filter(|e| {
                let m = e["method"].as_str().unwrap_or("");
                (m == "Runtime.consoleAPICalled"
                    && matches!(e["params"]["type"].as_str(), Some("error" | "warning" | "assert")))
                    || m == "Runtime.exceptionThrown"
                    || (m == "Log.entryAdded"
                        && matches!(e["params"]["entry"]["level"].as_str(), Some("error" | "warning")))
            })
            .map(|e| e.to_string())
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
