"""The connection: keep-alive, a server that closes idle connections silently, timeouts, and what
a missing daemon looks like. Against fake_server (a real HTTP server on a Unix socket)."""
import os
import tempfile
import unittest

import numpy as np

import infervisor
from fake_server import FakeServer


class Transport_test(unittest.TestCase):
    def test_requests_reuse_one_connection(self):
        with FakeServer() as server, infervisor.Client(server.socket) as client:
            for i in range(20):
                result = client.infer("echo", {"x": np.full((2, 3), i, np.int64)}, id=str(i))
                self.assertEqual(result.id, str(i))
                self.assertEqual(result["y"].tolist(), [[i] * 3] * 2)
            self.assertEqual(client.connections_opened, 1)
            self.assertEqual(server.connections, 1)

    def test_a_connection_closed_silently_while_idle_is_replaced(self):
        with FakeServer(close_after_each=True) as server, \
                infervisor.Client(server.socket, shared_memory_threshold=None) as client:
            for i in range(5):
                x = np.arange(20000, dtype=np.float32) + i  # over 64 KiB: sent in parts
                np.testing.assert_array_equal(client.infer("echo", {"x": x})["y"], x)
                self.assertTrue(client.health().ready)  # two requests
            # Each request found its connection closed, and went again on a new one.
            self.assertEqual(client.connections_opened, 15)
            self.assertEqual(server.connections, 15)

    def test_a_timeout_closes_the_connection_and_the_next_request_works(self):
        with FakeServer() as server, infervisor.Client(server.socket, timeout=0.2) as client:
            client.health()
            with self.assertRaises(infervisor.RequestTimeout) as caught:
                client._call("GET", "/v2/hang")
            self.assertIsInstance(caught.exception, TimeoutError)
            self.assertIn("within 0.2 s", str(caught.exception))
            server.release_hang.set()
            self.assertTrue(client.health().live)
            self.assertEqual(client.connections_opened, 2)

    def test_no_daemon_says_where_it_looked(self):
        missing = os.path.join(tempfile.gettempdir(), f"no-such-{os.getpid()}.sock")
        with infervisor.Client(missing) as client:
            with self.assertRaises(infervisor.ConnectionFailed) as caught:
                client.health()
        self.assertIn(missing, str(caught.exception))
        self.assertIn("INFERVISOR_SOCKET", str(caught.exception))
        self.assertIsInstance(caught.exception, ConnectionError)

    def test_server_errors_carry_status_and_message(self):
        with FakeServer() as server, infervisor.Client(server.socket) as client:
            with self.assertRaises(infervisor.ServerError) as caught:
                client.metadata("nosuch")
            self.assertEqual(caught.exception.status, 404)
            self.assertEqual(caught.exception.message, "no endpoint at '/v2/models/nosuch'")
            self.assertEqual(client.connections_opened, 1)  # an error does not cost the connection

    def test_plain_lists_take_the_declared_datatype_without_losing_their_kind(self):
        with FakeServer(echo_datatype="INT64") as server, \
                infervisor.Client(server.socket) as client:
            y = client.infer("echo", {"x": [[1, 2], [3, 4]]})["y"]
            self.assertEqual(y.dtype, np.int64)
            self.assertEqual(y.tolist(), [[1, 2], [3, 4]])
            with self.assertRaisesRegex(ValueError, "float64 values cannot be sent as INT64"):
                client.infer("echo", {"x": [[1.5]]})
        with FakeServer(echo_datatype="FP32") as server, \
                infervisor.Client(server.socket) as client:
            self.assertEqual(client.infer("echo", {"x": [[1, 2]]})["y"].dtype, np.float32)
            y = client.infer("echo", {"x": np.array([[0.5]])}, datatypes={"x": "FP32"})["y"]
            self.assertEqual((y.dtype, y.tolist()), (np.float32, [[0.5]]))

    def test_the_endpoint_is_a_socket_or_an_http_url(self):
        self.assertEqual(infervisor.Client("/x.sock").endpoint, "unix:/x.sock")
        self.assertEqual(infervisor.Client(url="http://127.0.0.1:8000").endpoint,
                         "http://127.0.0.1:8000")
        for bad in ("https://h:1", "h:1", "http://h:1/v2"):
            with self.assertRaises(ValueError, msg=bad):
                infervisor.Client(url=bad)
        with self.assertRaises(ValueError):
            infervisor.Client("/x.sock", url="http://h:1")
        saved = os.environ.get("INFERVISOR_SOCKET")
        os.environ["INFERVISOR_SOCKET"] = "/tmp/from-env.sock"
        try:
            self.assertEqual(infervisor.Client().endpoint, "unix:/tmp/from-env.sock")
        finally:
            if saved is None:
                del os.environ["INFERVISOR_SOCKET"]
            else:
                os.environ["INFERVISOR_SOCKET"] = saved


if __name__ == "__main__":
    unittest.main()
