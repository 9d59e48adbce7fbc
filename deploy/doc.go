// Package deploy holds nginx.conf and the tests that check the shipping
// files at the top of the repository (docker-compose.yml, Dockerfile,
// .env.example, .dockerignore, Makefile) against each other, since no test
// can run Docker itself here.
package deploy
