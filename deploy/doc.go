// Package deploy holds nginx.conf and the tests that check the shipping
// files at the top of the repository (docker-compose.yml, Dockerfile,
// .env.example, .dockerignore, Makefile) against each other. One of them
// (image_test.go) lays out the final image's filesystem as the Dockerfile
// describes and runs the binary in it through chroot as the image's user,
// the nearest this machine's go test gets to `docker run`.
package deploy
