package cli

import (
	"io/fs"
	"os"
	"path/filepath"

	"github.com/stigmer/stigmer/internal/api"
	"github.com/stigmer/stigmer/internal/config"
	"github.com/stigmer/stigmer/internal/devserver"
	"github.com/stigmer/stigmer/internal/peer"
	"github.com/stigmer/stigmer/internal/portowner"
)

// The commands' clients of the server: over its operator socket when
// there is one, else over TCP; either way refusing a server that neither
// root, the service's user nor the user running the command runs (see
// package peer).

// operatorSocket is the server's operator socket, when one exists: in
// STIGMER_RUNTIME_DIR when that is set; else the running dev server's of
// this STIGMER_HOME; else the packaged service's, in /run/stigmer.
func operatorSocket() (string, bool) {
	var dirs []string
	if v := os.Getenv("STIGMER_RUNTIME_DIR"); v != "" {
		dirs = []string{v}
	} else {
		if home, err := config.Home(os.Getenv); err == nil {
			if _, ok := devserver.Running(devserver.PathsIn(home)); ok {
				dirs = append(dirs, filepath.Join(home, "run"))
			}
		}
		dirs = append(dirs, config.DefaultSystemRuntimeDir)
	}
	for _, d := range dirs {
		p := filepath.Join(d, config.OperatorSocket)
		if fi, err := os.Stat(p); err == nil && fi.Mode().Type() == fs.ModeSocket {
			return p, true
		}
	}
	return "", false
}

// operatorClient asks the server over its operator socket at path.
func operatorClient(path string) *api.Client {
	return api.NewClientDialing("http://stigmer", peer.Trusted().DialUnix(path))
}

// tcpClient asks the server at addr over TCP.
func tcpClient(addr string) *api.Client {
	return api.NewClientDialing("http://"+addr, peer.Trusted().DialTCP(portowner.Proc{Root: "/proc"}))
}
